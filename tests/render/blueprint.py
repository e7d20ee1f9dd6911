"""render.yaml read once for the tests beside it: the web service, its commands and env vars."""

import hashlib
import json
from pathlib import Path

import yaml

from ops import render
from ops.tools import REPO_DIR

HERE = Path(__file__).resolve().parent
BLUEPRINT_FILE = REPO_DIR / "render.yaml"
SCHEMA_FILE = HERE / "render-blueprint-schema.json"
# sha256 of the schema copy as recorded in README.md (an edit by hand is caught).
SCHEMA_SHA256 = "1bf65c597e228b426b6565faeae9e30dbf3bba388ef573a3ee131c91c95c67d2"

# Render's native Python runtime builds into this venv under the checkout (the repo root is
# /opt/render/project/src) and puts its bin/ first on PATH. VIRTUAL_ENV wins when set, which is
# also how the local test points the same command at its own venv.
RENDER_VENV = "${VIRTUAL_ENV:-/opt/render/project/src/.venv}"
RENDER_ENDPOINT = "tcp:port=$PORT:interface=0.0.0.0"


def blueprint():
    return yaml.safe_load(BLUEPRINT_FILE.read_text())


def schema():
    raw = SCHEMA_FILE.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256, "the schema copy changed: see tests/render/README.md"
    return json.loads(raw)


def service(document, type_):
    (found,) = [item for item in document["services"] if item["type"] == type_]
    return found


def web(document=None):
    return service(document or blueprint(), "web")


def env_vars(document=None):
    return {item["key"]: item for item in web(document)["envVars"]}


def daphne_command():
    """systemd/_commands.j2's daphne_command on Render's port, with Render's venv python."""
    env = render.environment(REPO_DIR / "systemd")
    variables = render.variables_from(overrides={"app_venv_dir": RENDER_VENV})
    return str(env.get_template("_commands.j2").make_module(variables).daphne_command(RENDER_ENDPOINT))
