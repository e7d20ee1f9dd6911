"""Runs the selected molecule scenarios in the background, MOLECULE_CONCURRENCY at a time
(default 2), longest first. tests/conftest.py starts them when the session reaches its host
suites (containers, Terraform, molecule), so the images and the cloud-init host are built
while the scenarios converge; test_scenarios.py waits for each one's result.

A scenario spends most of its time waiting on `podman exec`, apt and pip, not on the CPU, and
scenarios share no container (names start with cs-<scenario>-). The suites that judge times
(live, e2e, browser) run after the last scenario ended. Each one's output goes to
test-artifacts/molecule-<scenario>.log and its time to test-artifacts/molecule-times.txt."""

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ops.testing.artifacts import ARTIFACTS, append_line
from ops.testing.tools import prepared_environment, require_tool
from ops.tools import REPO_DIR

ANSIBLE_DIR = REPO_DIR / "ansible"
SCENARIOS = sorted(p.parent.name for p in (ANSIBLE_DIR / "molecule").glob("*/molecule.yml"))
CONCURRENCY = int(os.environ.get("MOLECULE_CONCURRENCY", "2"))
TIMEOUT_S = 3500
# Minutes each took alone on the 2-core CI machine: the longest start first, so that the short
# ones fill in at the end instead of one long scenario running alone.
USUAL_MINUTES = {"cluster": 9, "full": 9, "app": 6, "nginx": 3, "postgresql": 3, "common": 3, "redis": 2}


def molecule_environment():
    """The environment prepare-host.sh prints (CONTAINERS_CONF, MOLECULE_IMAGE), image built.
    Under CI=true a missing podman or debootstrap fails (prepare-host.sh installs them when it
    can, and builds the base image); locally it skips."""
    require_tool("podman", "molecule runs the roles in podman containers with systemd")
    require_tool("debootstrap", "the scenarios' base image is built locally (no registry here)")
    env = prepared_environment(ANSIBLE_DIR / "molecule" / "prepare-host.sh")
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO_DIR)
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PY_COLORS="0", NO_COLOR="1")
    return env


class ScenarioRuns:
    def __init__(self):
        self._futures = {}
        self._setup_error = None
        self._executor = None
        self._running = set()
        self._lock = threading.Lock()

    def start(self, items):
        """Start the scenarios of the session's selected items (once; later calls do nothing)."""
        if self._executor is not None or self._setup_error is not None:
            return
        scenarios = [item.callspec.params["scenario"] for item in items
                     if item.get_closest_marker("molecule") and hasattr(item, "callspec")]
        if not scenarios:
            return
        try:
            env = molecule_environment()
        except BaseException as error:  # pytest's skip and fail too: each scenario's test reports it
            self._setup_error = error
            return
        self._executor = ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="molecule")
        for scenario in sorted(scenarios, key=lambda name: -USUAL_MINUTES.get(name, 10)):  # a new one: long
            self._futures[scenario] = self._executor.submit(self._run, scenario, env)

    def result(self, scenario):
        """(returncode, seconds, log) of a started scenario, once it has ended."""
        if self._setup_error is not None:
            raise self._setup_error
        assert scenario in self._futures, f"{scenario} was never started (tests/conftest.py starts the selected ones)"
        return self._futures[scenario].result(timeout=TIMEOUT_S + 60)

    def stop(self):
        """At the end of the session: nothing left running (an interrupted run, a failed session)."""
        if self._executor is None:
            return
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            for process in self._running:
                process.terminate()

    def _run(self, scenario, env):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        log = ARTIFACTS / f"molecule-{scenario}.log"
        started = time.monotonic()
        with open(log, "w") as output:
            process = subprocess.Popen([str(Path(sys.executable).with_name("molecule")), "test", "-s", scenario],
                                       cwd=ANSIBLE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT)
            with self._lock:
                self._running.add(process)
            try:
                returncode = process.wait(timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                returncode = f"killed after {TIMEOUT_S} s"
            finally:
                with self._lock:
                    self._running.discard(process)
        seconds = time.monotonic() - started
        append_line("molecule-times.txt", f"{scenario}: {seconds:.0f} s, exit {returncode} ({CONCURRENCY} at a time)")
        return returncode, seconds, log


RUNS = ScenarioRuns()
