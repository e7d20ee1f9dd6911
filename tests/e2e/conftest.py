"""One local production stack for the end-to-end tests: nginx -> 2 daphne + gunicorn/uvicorn,
Redis, PostgreSQL, started by the launcher `make stack` uses, with short idle timeouts."""

import shutil
import tempfile

import pytest

from ops.testing.processes import LocalStack
from ops.testing.tools import require_tool
from ops.tools import nofile_limit

# Short enough to prove the idle invariant in seconds: daphne pings every 2 s, nginx cuts a
# socket after 5 s without traffic.
SHORT_TIMEOUTS = {"nginx_ws_read_timeout": 5, "nginx_ws_send_timeout": 5, "daphne_ping_interval": 2}


def require_stack_tools():
    for tool in ("nginx", "redis-server", "initdb", "pg_ctl"):
        require_tool(tool, "the local stack runs the real thing")


def stack_directory():
    # Not under pytest's tmp dir: as root, PostgreSQL runs as "postgres", which must be able
    # to reach its directory, and pytest's base temp directory is private (0700).
    return tempfile.mkdtemp(prefix="channels-stack-e2e-")


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    require_stack_tools()
    nofile_limit(65536)  # this process opens 1,000+ client sockets
    root = stack_directory()
    running = LocalStack(root, tmp_path_factory.mktemp("stack") / "stack-output.log", settings=SHORT_TIMEOUTS)
    yield running
    running.stop()
    shutil.rmtree(root, ignore_errors=True)
