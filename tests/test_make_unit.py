"""`make unit` selects exactly the tests that start nothing, and fails one that starts a process.

The system suites get their markers from tests/conftest.py at collection; they once got them
after pytest's `-m` had already selected, and `make unit` started the molecule scenarios, the
image builds and the cloud-init host. A test that runs a command is marked `process`; the plugin
ops.testing.no_processes, which `make unit` loads, fails one that is not."""

import subprocess
import sys
import tomllib

import pytest

from ops.testing.no_processes import MAY_START, guards
from ops.tools import REPO_DIR
from tests.conftest import SUITE_MARKERS, SYSTEM_MARKERS

pytestmark = [pytest.mark.process, pytest.mark.timeout(300)]


def unit_command():
    result = subprocess.run(["make", "-n", "-C", str(REPO_DIR), "unit", f"PY={sys.executable}"],
                            capture_output=True, text=True, check=True)
    (line,) = [line for line in result.stdout.splitlines() if "-m pytest" in line]
    return line


def unit_expression():
    return unit_command().split('-m "', 1)[1].rsplit('"', 1)[0]


def collected(*args):
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                            capture_output=True, text=True, cwd=REPO_DIR, timeout=240)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return {line for line in result.stdout.splitlines() if "::" in line}


def test_make_unit_leaves_out_every_test_that_may_start_something():
    expression = unit_expression()
    assert set(MAY_START) <= set(SYSTEM_MARKERS) | {"process", "fuzz"}
    for marker in MAY_START:
        assert f"not {marker}" in expression
    unit = collected("-m", expression)
    for suite in SUITE_MARKERS:
        assert not [test for test in unit if test.startswith(f"tests/{suite}/")], suite
    for left_out in ("tests/molecule/", "tests/install/", "app/realtime/tests/test_fuzz.py",
                     "ops/tests/test_preflight.py"):
        assert not [test for test in unit if test.startswith(left_out)], left_out
    assert any(test.startswith("app/") for test in unit) and any(test.startswith("ops/") for test in unit)


def test_every_run_loads_the_guard():
    """What keeps the selection honest: a new unmarked test that starts a process fails in
    `make test` too, not only under `make unit`."""
    config = tomllib.loads((REPO_DIR / "pyproject.toml").read_text())
    assert "-p ops.testing.no_processes" in config["tool"]["pytest"]["ini_options"]["addopts"]


def guarded_run(directory):
    """pytest on the tests in `directory`, with the guard on and guarding that directory."""
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                           "ops.testing.no_processes", "--rootdir", str(directory), str(directory)],
                          capture_output=True, text=True, cwd=REPO_DIR, timeout=120,
                          env={"PYTHONPATH": str(REPO_DIR), "PATH": "/usr/bin:/bin",
                               "NO_PROCESSES_ROOTS": str(directory)})


@pytest.mark.parametrize("starts", [
    "subprocess.run(['true'])",
    "os.system('true')",
    "__import__('asyncio').run(__import__('asyncio').create_subprocess_exec('true'))",
])
def test_the_guard_fails_a_test_that_starts_a_process(tmp_path, starts):
    (tmp_path / "test_starts.py").write_text(f"import os, subprocess\n\ndef test_it():\n    {starts}\n")
    result = guarded_run(tmp_path)
    assert result.returncode == 1, result.stdout[-2000:]
    assert "Mark it @pytest.mark.process" in result.stdout


def test_the_guard_lets_a_marked_test_start_one(tmp_path):
    (tmp_path / "test_starts.py").write_text("import subprocess\n\nimport pytest\n\n\n@pytest.mark.process\n"
                                             "def test_it():\n    subprocess.run(['true'], check=True)\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    process: runs a command\n")
    result = guarded_run(tmp_path)
    assert result.returncode == 0, result.stdout[-2000:]


def test_the_guard_stays_out_of_the_molecule_verifiers():
    """testinfra reaches the hosts through podman: every verifier test starts processes (the first
    CI with the guard everywhere failed every scenario's verify step)."""
    assert not guards(REPO_DIR / "ansible" / "molecule" / "full" / "tests" / "test_full.py")
    assert guards(REPO_DIR / "app" / "tokens" / "tests" / "test_store.py")
    assert guards(REPO_DIR / "tests" / "test_make_unit.py")
