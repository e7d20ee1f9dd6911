""".vscode/launch.json's configurations start what they say: each command line, with the
debugger left out, serves HTTP and a WebSocket on the app with the development settings."""

import asyncio
import json
import os
import sys
import urllib.request

import pytest

from ops.testing.client import receive, ws_connect
from ops.testing.processes import Process, free_port, wait_until
from ops.tools import REPO_DIR

LAUNCH = json.loads((REPO_DIR / ".vscode" / "launch.json").read_text())
CONFIGURATIONS = {c["name"]: c for c in LAUNCH["configurations"]}


def expand(value):
    return value.replace("${workspaceFolder}", str(REPO_DIR))


class Launched:
    def __init__(self, port):
        self.base_url, self.ws_base = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"


def command_line(configuration, port):
    python = expand(configuration["python"])
    assert os.path.realpath(python) == os.path.realpath(sys.executable), "the repository's venv"
    args = [expand(a).replace("8000", str(port)) for a in configuration["args"]]
    if "module" in configuration:
        return [sys.executable, "-m", configuration["module"], *args]
    return [sys.executable, expand(configuration["program"]), *args]


def test_every_configuration_debugs_django_with_the_development_settings():
    assert CONFIGURATIONS
    for configuration in CONFIGURATIONS.values():
        assert configuration["type"] == "debugpy" and configuration["request"] == "launch"
        assert configuration["django"] is True and configuration["cwd"] == "${workspaceFolder}/app"
        # asgi.py's own default is production, which would refuse to start without its secrets.
        assert configuration["env"]["DJANGO_SETTINGS_MODULE"] == "config.settings.dev"


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
async def test_the_configuration_serves_http_and_websockets(name, tmp_path):
    configuration = CONFIGURATIONS[name]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REDIS_URL"))}
    env.update(configuration["env"], DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with Process(command_line(configuration, port), tmp_path / "launched.log", env=env,
                 cwd=expand(configuration["cwd"])) as process:
        def healthy():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:  # noqa: S310
                return response.status == 200

        await asyncio.to_thread(wait_until, healthy, 60, name, process.popen, process.log_path)
        async with ws_connect(Launched(port), "/ws/test/") as ws:
            assert (await receive(ws))["type"] == "connection_established"
