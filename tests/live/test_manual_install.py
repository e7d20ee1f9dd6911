"""systemd/README.md's manual install, run as written: its manage wrapper and the manage.py
lines of its release steps, in a sandbox (paths under a temporary directory, no other user),
with an app.env rendered by ops.render. Through the wrapper collectstatic runs with the
production settings and writes the manifest, and daphne then serves the pages with production
settings. The negative control is the issue's: collectstatic without app.env (the development
settings) leaves no manifest, and the same page answers 500."""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from ops import render
from ops.stack import read_env_file
from ops.testing.client import http
from ops.testing.processes import Daphne
from ops.tools import APP_DIR, REPO_DIR

README = REPO_DIR / "systemd" / "README.md"


def code_block_after(marker):
    text = README.read_text()
    start = text.index("```sh\n", text.index(marker)) + len("```sh\n")
    return text[start:text.index("```", start)]


def sandboxed(text, root, env_file):
    """The README's text with its paths under `root`; no `runuser` (no app user here)."""
    return (text.replace("/etc/channels-stack/app.env", str(env_file))
            .replace("/srv/channels-stack", str(root / "srv" / "channels-stack"))
            .replace("runuser -u channels-stack -- ", ""))


@pytest.fixture
def server_files(tmp_path, redis_server):
    """What steps 1 to 3 leave on a server: a release, app.env, the wrapper."""
    current = tmp_path / "srv" / "channels-stack" / "current"
    variables = render.variables_from(overrides={
        "app_current": str(current),
        "app_secret_key": secrets.token_urlsafe(50),
        "app_database_url": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "app_redis_url": redis_server.url,
        "app_server_names": ["127.0.0.1"],
        "app_https": False,
    })
    env_file = render.render(variables, out_dir=tmp_path / "rendered", targets=("env",))["app.env"]
    assert "DJANGO_SETTINGS_MODULE=config.settings.production" in Path(env_file).read_text()

    release = tmp_path / "srv" / "channels-stack" / "releases" / "r1"
    release.mkdir(parents=True)
    (release / "app").symlink_to(APP_DIR)  # step 1's copy of app/ and its venv
    (release / "venv").symlink_to(sys.prefix)

    block = code_block_after("<!-- manage-wrapper")
    script = block.split("<<'EOF'\n", 1)[1].split("\nEOF\n", 1)[0] + "\n"
    wrapper = tmp_path / "channels-stack-manage"
    wrapper.write_text(sandboxed(script, tmp_path, env_file))
    wrapper.chmod(0o755)
    return {"release": release, "env_file": Path(env_file), "wrapper": wrapper, "root": tmp_path}


def clean_env():
    """A server's shell: none of this test run's Django variables."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}


def serve(env_file, static_root, log_path):
    env = {**clean_env(), **read_env_file(env_file), "STATIC_ROOT": str(static_root), "PYTHONUNBUFFERED": "1"}
    return Daphne(env, log_path)


def test_the_documented_steps_serve_production_pages(server_files, tmp_path):
    files = server_files
    commands = [line.strip() for line in code_block_after("<!-- release-steps").splitlines()
                if line.startswith("sudo channels-stack-manage --release")]
    assert [line.split()[4] for line in commands] == ["collectstatic", "migrate", "check"]
    for line in commands:
        command = sandboxed(line, files["root"], files["env_file"]).split("#")[0]
        command = command.replace("sudo channels-stack-manage", f"sh {files['wrapper']}")
        command = command.replace('"$RELEASE"', str(files["release"]))
        result = subprocess.run(command, shell=True, env=clean_env(), capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"

    manifest = json.loads((files["release"] / "static" / "staticfiles.json").read_text())
    hashed = manifest["paths"]["demo/demo.css"]
    with serve(files["env_file"], files["release"] / "static", tmp_path / "daphne.log") as daphne:
        status, page = http("GET", daphne.base_url + "/")
        assert status == 200 and f"/static/{hashed}" in page
        assert http("GET", daphne.base_url + f"/static/{hashed}")[0] == 200
        assert http("GET", daphne.base_url + "/admin/login/")[0] == 200


def test_collectstatic_without_app_env_breaks_production_negative_control(server_files, tmp_path):
    files = server_files
    wrapper_migrate = subprocess.run(["sh", str(files["wrapper"]), "--release", str(files["release"]), "migrate"],
                                     env=clean_env(), capture_output=True, text=True, timeout=300)
    assert wrapper_migrate.returncode == 0, wrapper_migrate.stderr
    wrong = tmp_path / "collected-with-dev-settings"
    result = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=APP_DIR,
                            env={**clean_env(), "STATIC_ROOT": str(wrong)}, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert not (wrong / "staticfiles.json").exists()
    with serve(files["env_file"], wrong, tmp_path / "daphne.log") as daphne:
        assert http("GET", daphne.base_url + "/")[0] == 500
        assert re.search(r"Missing staticfiles manifest entry", daphne.read_log())
