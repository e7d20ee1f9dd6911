"""`make unit` selects exactly the tests that start no server, container or host.

The system suites get their markers from tests/conftest.py at collection; they once got them
after pytest's `-m` had already selected, and `make unit` started the molecule scenarios, the
image builds and the cloud-init host."""

import subprocess
import sys

from ops.tools import REPO_DIR
from tests.conftest import SUITE_MARKERS, SYSTEM_MARKERS

pytestmark = __import__("pytest").mark.timeout(300)


def unit_expression():
    result = subprocess.run(["make", "-n", "-C", str(REPO_DIR), "unit", f"PY={sys.executable}"],
                            capture_output=True, text=True, check=True)
    (line,) = [line for line in result.stdout.splitlines() if "-m pytest" in line]
    return line.split('-m "', 1)[1].rsplit('"', 1)[0]


def collected(*args):
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                            capture_output=True, text=True, cwd=REPO_DIR, timeout=240)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return {line for line in result.stdout.splitlines() if "::" in line}


def test_make_unit_leaves_out_every_system_test_and_nothing_else():
    expression = unit_expression()
    for marker in SYSTEM_MARKERS:
        assert f"not {marker}" in expression
    unit = collected("-m", expression)
    system = collected("-m", " or ".join(SYSTEM_MARKERS))
    everything = collected()
    assert unit and not unit & system
    assert unit | system == everything
    for suite in SUITE_MARKERS:
        assert not [test for test in unit if test.startswith(f"tests/{suite}/")], suite
    assert any(test.startswith("tests/molecule/") for test in system)
    assert any(test.startswith("app/") for test in unit)
