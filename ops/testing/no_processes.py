"""A pytest plugin for `make unit`: a test that starts a process fails, saying which marker it
needs. `make unit` promises the tests that start nothing (no server, container, host or command);
this keeps the promise true as tests are added, instead of trusting every author to mark theirs.

    python -m pytest -p ops.testing.no_processes -m "not (process or live or ...)"
"""

import os
import subprocess

import pytest

MESSAGE = ("{what}: this test starts a process, and `make unit` runs only tests that start nothing. "
           "Mark it @pytest.mark.process (a command it runs: manage.py, nginx -t, systemd-analyze, "
           "ansible-playbook) or put it in a system suite (tests/live, tests/e2e, ...).")


class ProcessStarted(AssertionError):
    pass


def _refuse(what):
    def refused(*args, **kwargs):
        raise ProcessStarted(MESSAGE.format(what=what))

    return refused


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Only the test's own body: fixtures may prepare files, never start processes either."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "_execute_child", _refuse("subprocess"))
        for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system", "execv", "execve"):
            if hasattr(os, name):
                patch.setattr(os, name, _refuse(f"os.{name}"))
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "_execute_child", _refuse("subprocess (in a fixture)"))
        for name in ("fork", "posix_spawn", "system"):
            patch.setattr(os, name, _refuse(f"os.{name} (in a fixture)"))
        return (yield)
