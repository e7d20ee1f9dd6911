"""The servers refuse bad production settings as manage.py does: the units' own command lines
(systemd/_commands.j2) print the whole report, no traceback, and end with gunicorn's "App failed
to load" status, so gunicorn stops instead of booting workers that fail the same way forever."""

import os
import shlex
import subprocess
import sys

import pytest

from ops import render
from ops.tools import APP_DIR, REPO_DIR

BAD_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "abc",
    "REDIS_URL": "localhost:6379",
    "ALLOWED_HOSTS": "https://chat.example.org",
}


def commands(tmp_path):
    variables = render.variables_from(overrides={
        "app_venv_dir": sys.prefix, "app_dir": str(APP_DIR), "daphne_socket": f"{tmp_path}/daphne-%i.sock",
    })
    return render.environment(REPO_DIR / "systemd").get_template("_commands.j2").make_module(variables)


@pytest.mark.parametrize("server", ["daphne", "uvicorn", "gunicorn"])
def test_a_server_started_with_bad_settings_prints_the_report_and_stops(server, tmp_path):
    macros = commands(tmp_path)
    line = {
        "daphne": lambda: macros.daphne_command(macros.daphne_endpoint("1")),
        "uvicorn": lambda: macros.uvicorn_command("1"),
        "gunicorn": lambda: macros.http_command(f"unix:{tmp_path}/http.sock"),
    }[server]()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), **BAD_ENV}
    result = subprocess.run(shlex.split(str(line)), cwd=APP_DIR, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 4, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr
    assert "The settings (config.settings.production) are refused, 4 problems" in result.stderr
    for advice in ("SECRET_KEY is weak", "REDIS_URL ('localhost:6379') must start with redis://",
                   "DATABASE_URL is not set", "ALLOWED_HOSTS: 'https://chat.example.org' has a scheme"):
        assert advice in result.stderr
    assert not list(tmp_path.glob("*.sock")), "nothing listens"
    if server == "gunicorn":
        assert "Reason: App failed to load." in result.stderr
