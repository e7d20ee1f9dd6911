"""`make unit` selects exactly the tests that start nothing, and fails one that starts a process.

The system suites get their markers from tests/conftest.py at collection; they once got them
after pytest's `-m` had already selected, and `make unit` started the molecule scenarios, the
image builds and the cloud-init host. A test that runs a command is marked `process`; the plugin
ops.testing.no_processes, which `make unit` loads, fails one that is not."""

import subprocess
import sys

import pytest

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


def test_make_unit_leaves_out_every_test_that_starts_something_and_nothing_else():
    expression = unit_expression()
    for marker in (*SYSTEM_MARKERS, "process", "fuzz"):
        assert f"not {marker}" in expression
    unit = collected("-m", expression)
    rest = collected("-m", " or ".join((*SYSTEM_MARKERS, "process", "fuzz")))
    everything = collected()
    assert unit and not unit & rest
    assert unit | rest == everything
    for suite in SUITE_MARKERS:
        assert not [test for test in unit if test.startswith(f"tests/{suite}/")], suite
    assert any(test.startswith("tests/molecule/") for test in rest)
    assert any(test.startswith("app/") for test in unit)


@pytest.mark.parametrize("starts", [
    "subprocess.run(['true'])",
    "os.system('true')",
    "__import__('asyncio').run(__import__('asyncio').create_subprocess_exec('true'))",
])
def test_the_unit_run_fails_a_test_that_starts_a_process(tmp_path, starts):
    assert "-p ops.testing.no_processes" in unit_command()
    (tmp_path / "test_starts.py").write_text(f"import os, subprocess\n\ndef test_it():\n    {starts}\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                             "ops.testing.no_processes", "--rootdir", str(tmp_path), str(tmp_path)],
                            capture_output=True, text=True, cwd=REPO_DIR, timeout=120,
                            env={"PYTHONPATH": str(REPO_DIR), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1, result.stdout[-2000:]
    assert "Mark it @pytest.mark.process" in result.stdout
