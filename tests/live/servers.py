"""The HTTP server as the systemd unit runs it: gunicorn with uvicorn workers, its command line
rendered from systemd/_commands.j2 (ops.testing.processes starts daphne the same way)."""

import shlex
import sys
from pathlib import Path

from ops import render
from ops.testing.processes import DjangoServer
from ops.tools import REPO_DIR


def gunicorn_command(port, workers=2):
    """systemd/_commands.j2's http_command with this venv and `workers`, on a loopback port."""
    variables = render.variables_from(overrides={"app_venv_dir": str(Path(sys.executable).parent.parent),
                                                 "http_workers": workers})
    commands = render.environment(REPO_DIR / "systemd").get_template("_commands.j2").make_module(variables)
    return shlex.split(str(commands.http_command(f"127.0.0.1:{port}")))


class Gunicorn(DjangoServer):
    def __init__(self, env, log_path, workers=2):
        super().__init__(lambda port: gunicorn_command(port, workers), env, log_path,
                         f"gunicorn with {workers} uvicorn workers", ready_timeout=60)
