"""A pytest plugin, loaded by every run (pyproject.toml's addopts): a test that starts a process
fails, saying which marker it needs, unless it is marked as one that does.

`make unit` runs the tests that start nothing (no server, container, host or command): it leaves
out the markers below. This keeps that selection true as tests are added, in every `make test`,
instead of trusting every author to mark theirs.
"""

import os
import subprocess
from pathlib import Path

import pytest

from ops.tools import REPO_DIR

# Tests that may start processes: the system suites (tests/conftest.py gives their markers), a
# test that runs a command, and the fuzzers (which `make unit` leaves out for their time).
MAY_START = ("process", "fuzz", "live", "e2e", "browser", "molecule", "containers", "infra")
MESSAGE = ("{what}: this test starts a process, and `make unit` runs only tests that start nothing. "
           "Mark it @pytest.mark.process (a command it runs: manage.py, nginx -t, systemd-analyze, "
           "ansible-playbook) or put it in a system suite (tests/live, tests/e2e, ...).")
# Where the tests `make unit` selects from live (pyproject's testpaths). Elsewhere, e.g. the
# molecule verifiers (ansible/molecule/*/tests: testinfra reaches hosts with podman), every test
# is a system test and the guard stays out of the way.
# NO_PROCESSES_ROOTS (directories, os.pathsep-separated) replaces them: the guard's own tests.
GUARDED_ROOTS = tuple(Path(name) for name in os.environ.get("NO_PROCESSES_ROOTS", "").split(os.pathsep) if name) or \
    tuple(REPO_DIR / name for name in ("app", "ops", "tests"))
OS_CALLS = ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system", "execv", "execve", "execvp", "execvpe")


class ProcessStarted(AssertionError):
    pass


def _refuse(what):
    def refused(*args, **kwargs):
        raise ProcessStarted(MESSAGE.format(what=what))

    return refused


def guards(path):
    """Whether tests in this file are guarded at all (then their markers decide)."""
    path = Path(path).resolve()
    return any(path.is_relative_to(root) for root in GUARDED_ROOTS)


def _guarded(item):
    return guards(item.path) and not any(item.get_closest_marker(name) for name in MAY_START)


def _refusing(patch, when):
    patch.setattr(subprocess.Popen, "_execute_child", _refuse(f"subprocess{when}"))
    for name in OS_CALLS:
        if hasattr(os, name):
            patch.setattr(os, name, _refuse(f"os.{name}{when}"))
    try:  # what multiprocessing's spawn and forkserver start methods call, past subprocess
        import _posixsubprocess

        patch.setattr(_posixsubprocess, "fork_exec", _refuse(f"_posixsubprocess.fork_exec{when}"))
    except ImportError:  # not on this platform
        pass


def _phase(when):
    @pytest.hookimpl(wrapper=True)
    def hook(item, *args, **kwargs):
        if not _guarded(item):
            return (yield)
        with pytest.MonkeyPatch.context() as patch:
            _refusing(patch, when)
            return (yield)

    return hook


pytest_runtest_setup = _phase(" (in a fixture)")
pytest_runtest_call = _phase("")
pytest_runtest_teardown = _phase(" (in a fixture's teardown)")
