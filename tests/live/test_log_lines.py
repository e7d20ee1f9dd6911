"""The log lines a user reads first: `make run` prints each once, JSON lines carry an ISO 8601
time with its zone, daphne's access lines name the client, and no process complains about a
missing app/.env."""

import json
import secrets
import sys
from datetime import datetime

import pytest
from websockets.asyncio.client import unix_connect

from ops.testing.client import receive, ws_connect
from ops.testing.processes import DjangoServer, Process, django_env
from ops.tools import APP_DIR, REPO_DIR, http_connection

ENV_FILE_WARNING = ".env not found"


def make_run_command(port):
    """The Makefile's `run` target's server: runserver with its reloader, as a user starts it."""
    makefile = (REPO_DIR / "Makefile").read_text()
    assert "$(PY) manage.py runserver" in makefile, "make run starts something else now: update this test"
    return [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"]


def get(server, path):
    connection = http_connection({"host": "127.0.0.1", "port": server.port}, timeout=5)
    connection.request("GET", path)
    return connection.getresponse().status


@pytest.mark.parametrize("log_format", ["plain", "json"])
async def test_make_run_prints_each_line_once(tmp_path, database_url, log_format):
    """Django's default handlers on its own loggers printed every request line a second time
    next to ours; each event must appear once, in the chosen format."""
    missing = f"/missing-{secrets.token_hex(4)}/"
    env = django_env("config.settings.dev", database_url, LOG_FORMAT=log_format)  # DEBUG on, as make run
    with DjangoServer(make_run_command, env, tmp_path / "run.log", "make run's runserver") as server:
        assert get(server, missing) == 404
        async with ws_connect(server, "/ws/test/") as ws:
            assert (await receive(ws))["type"] == "connection_established"
    log = server.read_log()
    lines = [line for line in log.splitlines() if missing in line]
    # django.request's "Not Found" and the server's access line: one each.
    assert len(lines) == 2, log
    assert sum("Not Found" in line for line in lines) == 1, log
    assert sum(f"GET {missing} 404" in line for line in lines) == 1, log
    assert log.count("WebSocket CONNECT /ws/test/") == 1, log
    assert log.count("Watching for file changes") == 1, log
    assert ENV_FILE_WARNING not in log
    if log_format == "json":
        for line in lines:
            stamp = json.loads(line)["time"]
            assert datetime.fromisoformat(stamp).utcoffset() is not None, line


async def test_daphne_access_lines_name_the_client(tmp_path, database_url):
    """daphne as the units run it: a unix socket and --proxy-headers. Behind nginx the client is
    the address in X-Forwarded-For (nginx sends no port), a local client on the socket is "unix";
    daphne itself wrote "None" and "ADDRESS:0"."""
    socket_path = tmp_path / "daphne.sock"
    env = django_env("config.settings.dev", database_url, DJANGO_DEBUG="false", SERVER_INSTANCE_ID="access-log")
    command = [sys.executable, "-m", "realtime.server", "--unix-socket", str(socket_path), "--proxy-headers",
               "config.asgi:application"]

    def request(path, headers=None):
        connection = http_connection({"unix": str(socket_path)}, timeout=5)
        connection.request("GET", path, headers=headers or {})
        return connection.getresponse().status

    with Process(command, tmp_path / "daphne.log", env=env, cwd=APP_DIR) as daphne:
        daphne.await_ready(lambda: request("/healthz") == 200, 30, "daphne on a unix socket")
        assert request("/forwarded-client/", {"X-Forwarded-For": "203.0.113.7"}) == 404
        assert request("/local-client/") == 404
        async with unix_connect(str(socket_path), "ws://localhost/ws/test/", origin="http://localhost",
                                additional_headers={"X-Forwarded-For": "198.51.100.9"}) as ws:
            assert (await receive(ws))["type"] == "connection_established"
    log = daphne.read_log()

    def access_line(request_text):
        (line,) = [line for line in log.splitlines() if f'"{request_text}"' in line]
        return line

    assert access_line("GET /forwarded-client/").startswith("203.0.113.7 - - ["), log
    assert access_line("GET /local-client/").startswith("unix - - ["), log
    assert access_line("WSCONNECT /ws/test/").startswith("198.51.100.9 - - ["), log
    assert "None - - [" not in log and ":0 - - [" not in log, log
    assert ENV_FILE_WARNING not in log, log
