"""docker-compose.prod.yml as a file: valid against the Compose Specification's JSON schema (a
copy, compose-spec.json: SCHEMA-SOURCE.md says from where), accepted by podman-compose, every
variable documented in .env.prod.example, and a missing secret refused in plain words."""

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from ops.tools import REPO_DIR

from .conftest import HERE

COMPOSE_FILE = REPO_DIR / "docker-compose.prod.yml"
EXAMPLE = REPO_DIR / ".env.prod.example"
REQUIRED = ["SERVER_NAMES", "CSRF_TRUSTED_ORIGINS", "TLS_CERTIFICATE_FILE", "TLS_CERTIFICATE_KEY_FILE",
            "SECRET_KEY", "REDIS_PASSWORD", "POSTGRES_PASSWORD"]


def compose_config(env_file):
    command = [str(Path(sys.executable).with_name("podman-compose")), "--env-file", str(env_file),
               "-f", str(COMPOSE_FILE), "config"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=REPO_DIR)


def filled_example(tmp_path, leave_out=()):
    """.env.prod.example with every REQUIRED value filled in (the TLS files exist)."""
    (tmp_path / "cert.pem").write_text("not read by `config`\n")
    values = {"SECRET_KEY": "k" * 50, "REDIS_PASSWORD": "redis-pw", "POSTGRES_PASSWORD": "pg-pw",
              "TLS_CERTIFICATE_FILE": tmp_path / "cert.pem", "TLS_CERTIFICATE_KEY_FILE": tmp_path / "cert.pem"}
    lines = []
    for line in EXAMPLE.read_text().splitlines():
        key = line.partition("=")[0]
        if key in leave_out:
            continue
        lines.append(f"{key}={values[key]}" if key in values else line)
    path = tmp_path / ".env.prod"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_valid_against_the_compose_specification_schema():
    schema = json.loads((HERE / "compose-spec.json").read_text())
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    errors = sorted(jsonschema.validators.validator_for(schema)(schema).iter_errors(document), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_schema_copy_rejects_a_misspelt_key():
    """Negative control: the copy does check service keys."""
    schema = json.loads((HERE / "compose-spec.json").read_text())
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    document["services"]["redis"]["restrat"] = "always"
    assert not jsonschema.validators.validator_for(schema)(schema).is_valid(document)


def app_settings():
    """The environment variables the app's settings read (each app container reads .env.prod)."""
    text = "".join(path.read_text() for path in (REPO_DIR / "app" / "config" / "settings").glob("*.py"))
    return set(re.findall(r"""env(?:\.\w+)?\(\s*["']([A-Z0-9_]+)["']""", text))


def test_every_variable_is_documented_in_the_example():
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE_FILE.read_text()))
    documented = set(re.findall(r"^#?([A-Z0-9_]+)=", EXAMPLE.read_text(), re.MULTILINE))
    assert used - documented == set(), "add them to .env.prod.example"
    assert documented - used - app_settings() == set(), "documented but used by neither compose nor the app"
    assert {"ADMIN_URL", "LOG_FORMAT", "SECRET_KEY"} <= app_settings()
    for name in REQUIRED:  # required ones are uncommented, so a copy of the example names them
        assert re.search(rf"^{name}=", EXAMPLE.read_text(), re.MULTILINE), name


def test_podman_compose_accepts_the_filled_example(tmp_path):
    result = compose_config(filled_example(tmp_path))
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert set(config["services"]) == {"nginx", "daphne-1", "daphne-2", "http", "migrate", "token-cleanup", "redis",
                                       "postgres"}
    assert "redis://:redis-pw@redis:6379/0" in config["services"]["http"]["environment"]["REDIS_URL"]


@pytest.mark.parametrize("missing", ["SECRET_KEY", "POSTGRES_PASSWORD", "TLS_CERTIFICATE_FILE"])
def test_a_missing_required_variable_is_named(tmp_path, missing):
    result = compose_config(filled_example(tmp_path, leave_out=[missing]))
    assert result.returncode != 0
    assert f"set {missing} in .env.prod" in result.stderr + result.stdout
