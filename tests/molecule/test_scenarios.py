"""The Ansible roles on real systemd hosts: every molecule scenario under ansible/molecule/,
create to destroy (converge, idempotence, the scenario's own testinfra verifier).

The selected scenarios run MOLECULE_CONCURRENCY at a time (default 2), longest first: a
scenario spends most of its time waiting on `podman exec`, apt and pip, not on the CPU, and
scenarios share no container (names start with cs-<scenario>-). Each one's output goes to
test-artifacts/molecule-<scenario>.log and its time to test-artifacts/molecule-times.txt.
Under CI=true a missing podman or debootstrap fails here (ansible/molecule/prepare-host.sh
installs them when it can, and builds the base image)."""

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ops.testing.tools import prepared_environment, require_tool
from ops.tools import REPO_DIR

ANSIBLE_DIR = REPO_DIR / "ansible"
SCENARIOS = sorted(p.parent.name for p in (ANSIBLE_DIR / "molecule").glob("*/molecule.yml"))
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", REPO_DIR / "test-artifacts"))
CONCURRENCY = int(os.environ.get("MOLECULE_CONCURRENCY", "2"))
# Minutes each took alone on the 2-core CI machine: the longest start first, so that the short
# ones fill in at the end instead of one long scenario running alone.
USUAL_MINUTES = {"cluster": 9, "full": 9, "app": 6, "nginx": 3, "postgresql": 3, "common": 3, "redis": 2}


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


def run_scenario(scenario, env):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / f"molecule-{scenario}.log"
    started = time.monotonic()
    with open(log, "w") as output:
        result = subprocess.run([str(Path(sys.executable).with_name("molecule")), "test", "-s", scenario],
                                cwd=ANSIBLE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT, timeout=3500)
    seconds = time.monotonic() - started
    with open(ARTIFACTS / "molecule-times.txt", "a") as times:
        times.write(f"{scenario}: {seconds:.0f} s, exit {result.returncode} ({CONCURRENCY} at a time)\n")
    return result.returncode, seconds, log


@pytest.fixture(scope="session")
def scenario_runs(request, molecule_environment):
    """Every scenario this session selected, started at once on a bounded pool."""
    selected = {item.callspec.params["scenario"] for item in request.session.items
                if getattr(item, "originalname", None) == "test_scenario"}
    order = sorted(selected, key=lambda name: -USUAL_MINUTES.get(name, 10))  # a new one: long, until known
    with ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="molecule") as pool:
        yield {scenario: pool.submit(run_scenario, scenario, molecule_environment) for scenario in order}
        pool.shutdown(cancel_futures=True)


@pytest.mark.timeout(3600)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario_runs, scenario):
    returncode, seconds, log = scenario_runs[scenario].result()
    text = log.read_text(errors="replace")
    assert returncode == 0, f"molecule test -s {scenario} failed after {seconds:.0f} s ({log}):\n{text[-8000:]}"
