"""The launcher itself: the manage.py passthrough works against the running stack, Ctrl-C
stops every process (PostgreSQL included), and what the user made survives a restart."""

import os
import shutil
import signal
from pathlib import Path

import pytest

from ops.testing.client import http
from ops.testing.processes import LocalStack, wait_until

from .conftest import require_stack_tools, stack_directory


def processes_under(root):
    """PIDs whose command line mentions the stack directory (every process of the stack does)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(root) in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(proc.name))
            except OSError:
                continue
    return [pid for pid in found if pid != os.getpid()]


@pytest.fixture
def root():
    require_stack_tools()
    directory = stack_directory()
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_ctrl_c_stops_everything_and_keeps_the_data(root, tmp_path):
    first = LocalStack(root, tmp_path / "first.log", daphne=1)
    try:
        created = first.manage(
            "createsuperuser", "--noinput", "--username", "ops", "--email", "ops@example.com",
            env={"DJANGO_SUPERUSER_PASSWORD": "kept-across-restarts-1"},
        )
        assert created.returncode == 0, created.stderr
        assert len(processes_under(root)) >= 5  # launcher, honcho, redis, postgres, daphne, gunicorn, nginx
        # Ctrl-C: the terminal sends SIGINT to the launcher's whole process group.
        os.killpg(first.popen.pid, signal.SIGINT)
        assert first.popen.wait(60) == 130  # stopped by Ctrl-C
    finally:
        first.stop()
    wait_until(lambda: not processes_under(root), 20, "every process of the stack to exit")
    assert "stack stopped; its data stays in" in first.read_log()

    second = LocalStack(root, tmp_path / "second.log", daphne=1)
    try:
        status, body = http("POST", second.base_url + "/api/auth/login/",
                            body={"username": "ops", "password": "kept-across-restarts-1"})
        assert status == 200, body
    finally:
        second.stop()
    wait_until(lambda: not processes_under(root), 20, "every process of the stack to exit")


def test_manage_without_a_stack_says_how_to_start_one(root):
    result = LocalStack.manage_in(root, "check")
    assert result.returncode == 2 and "start one with `make stack`" in result.stderr
