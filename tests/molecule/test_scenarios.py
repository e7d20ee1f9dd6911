"""The Ansible roles on real systemd hosts: every molecule scenario under ansible/molecule/,
create to destroy (converge, idempotence, the scenario's own testinfra verifier).

Each scenario's output goes to test-artifacts/molecule-<scenario>.log and its time to
test-artifacts/molecule-times.txt. Under CI=true a missing podman or debootstrap fails here
(ansible/molecule/prepare-host.sh installs them when it can, and builds the base image)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ops.testing.tools import prepared_environment, require_tool
from ops.tools import REPO_DIR

ANSIBLE_DIR = REPO_DIR / "ansible"
SCENARIOS = sorted(p.parent.name for p in (ANSIBLE_DIR / "molecule").glob("*/molecule.yml"))
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", REPO_DIR / "test-artifacts"))


@pytest.fixture(scope="session")
def molecule_environment():
    """The environment prepare-host.sh prints (CONTAINERS_CONF, MOLECULE_IMAGE), image built."""
    require_tool("podman", "molecule runs the roles in podman containers with systemd")
    require_tool("debootstrap", "the scenarios' base image is built locally (no registry here)")
    env = prepared_environment(ANSIBLE_DIR / "molecule" / "prepare-host.sh")
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO_DIR)
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PY_COLORS="0", NO_COLOR="1")
    return env


@pytest.mark.timeout(3600)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(molecule_environment, scenario):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / f"molecule-{scenario}.log"
    started = time.monotonic()
    with open(log, "w") as output:
        result = subprocess.run([str(Path(sys.executable).with_name("molecule")), "test", "-s", scenario],
                                cwd=ANSIBLE_DIR, env=molecule_environment, stdout=output, stderr=subprocess.STDOUT,
                                timeout=3500)
    seconds = time.monotonic() - started
    with open(ARTIFACTS / "molecule-times.txt", "a") as times:
        times.write(f"{scenario}: {seconds:.0f} s, exit {result.returncode}\n")
    text = log.read_text(errors="replace")
    assert result.returncode == 0, f"molecule test -s {scenario} failed after {seconds:.0f} s ({log}):\n{text[-8000:]}"
