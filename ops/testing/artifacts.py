"""Where tests leave what a person reads afterwards (figures the docs quote, times, logs,
screenshots): test-artifacts/ at the repository root, or TEST_ARTIFACTS."""

import os
from pathlib import Path

from ops.tools import REPO_DIR

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", REPO_DIR / "test-artifacts"))


def append_line(name, line):
    """Add one line to ARTIFACTS/name, whatever the test's outcome later."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACTS / name, "a") as artifact:
        artifact.write(line + "\n")
