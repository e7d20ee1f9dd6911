"""render.yaml as a file: valid against Render's blueprint schema (a copy: README.md says from
where), wired as the app needs, and starting daphne with the units' own command line."""

import copy
import re

import jsonschema
import pytest

from ops.tools import APP_DIR, REPO_DIR

from .blueprint import RENDER_ENDPOINT, blueprint, daphne_command, env_vars, schema, service, web


def errors(document):
    validator = jsonschema.validators.validator_for(schema())(schema())
    return sorted(validator.iter_errors(document), key=str)


def test_valid_against_renders_blueprint_schema():
    found = errors(blueprint())
    assert not found, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in found)


def _misspelt_service_key(document):
    web(document)["startComand"] = web(document).pop("startCommand")


def _bad_eviction_policy(document):
    service(document, "keyvalue")["maxmemoryPolicy"] = "no-eviction"


def _public_key_value(document):
    del service(document, "keyvalue")["ipAllowList"]


def _misspelt_env_reference(document):
    database_url = env_vars(document)["DATABASE_URL"]
    database_url["fromDatabse"] = database_url.pop("fromDatabase")


def _misspelt_top_level_key(document):
    document["database"] = document.pop("databases")


@pytest.mark.parametrize(
    "spoil",
    [_misspelt_service_key, _bad_eviction_policy, _public_key_value, _misspelt_env_reference, _misspelt_top_level_key],
)
def test_schema_copy_rejects_mistakes(spoil):
    """Negative controls: the copy does check keys, enums and required fields at every level."""
    document = copy.deepcopy(blueprint())
    spoil(document)
    assert errors(document)


def test_start_command_is_the_units_daphne_command_on_renders_port():
    """Render's file is static YAML: this is what keeps it on systemd/_commands.j2's flags."""
    command = daphne_command()
    assert "\n" not in command and RENDER_ENDPOINT in command
    start = web()["startCommand"]
    assert start.count(command) == 1, f"render.yaml's startCommand:\n  {start}\nthe macro's:\n  {command}"
    # From the repository root into the Django project; exec: daphne replaces the shell, so
    # Render's SIGTERM reaches it (sockets close with 1001). Steps may come between (the free
    # plan's migrations, see the guide), the server last.
    assert start.startswith("cd app && ") and start.endswith(f"&& exec {command}")


def test_web_service_runs_python_with_the_pinned_interpreter():
    service_ = web()
    assert service_["runtime"] == "python"
    version = str(env_vars()["PYTHON_VERSION"]["value"])
    lock_header = re.search(r"pip-compile with Python (\d+\.\d+)", (APP_DIR / "requirements/base.txt").read_text())
    assert version.startswith(f"{lock_header[1]}."), "PYTHON_VERSION must match the lock's Python"
    image = re.search(r"ARG PYTHON_IMAGE=python:(\d+\.\d+\.\d+)", (REPO_DIR / "Dockerfile").read_text())
    assert version == image[1], "Render and the container image should run the same Python"


def test_environment_is_wired_to_the_database_and_key_value():
    document = blueprint()
    variables = env_vars(document)
    assert variables["DJANGO_SETTINGS_MODULE"]["value"] == "config.settings.production"
    assert variables["SECRET_KEY"] == {"key": "SECRET_KEY", "generateValue": True}
    (database,) = document["databases"]
    assert variables["DATABASE_URL"]["fromDatabase"] == {"name": database["name"], "property": "connectionString"}
    key_value = service(document, "keyvalue")
    assert variables["REDIS_URL"]["fromService"] == {
        "type": "keyvalue", "name": key_value["name"], "property": "connectionString"}
    # RENDER_EXTERNAL_HOSTNAME (set by Render at run time) feeds ALLOWED_HOSTS in the settings.
    assert "ALLOWED_HOSTS" not in variables and "RENDER_EXTERNAL_HOSTNAME" not in variables
    # Same region: the private network reaches Key Value and PostgreSQL only within a region.
    assert web(document)["region"] == key_value["region"] == database["region"]


def test_key_value_keeps_every_message_and_is_private():
    key_value = service(blueprint(), "keyvalue")
    assert key_value["maxmemoryPolicy"] == "noeviction"
    assert key_value["ipAllowList"] == []


def test_commands_build_from_the_hashed_lock_and_migrate_before_start():
    service_ = web()
    build = service_["buildCommand"]
    assert build.startswith("pip install --require-hashes -r app/requirements/pip.txt && "
                            "pip install --require-hashes -r app/requirements/base.txt && ")
    assert "DJANGO_SETTINGS_MODULE=config.settings.production" in build and "collectstatic --noinput" in build
    assert service_["preDeployCommand"] == (
        "cd app && python manage.py migrate --noinput && python manage.py createcachetable")
    assert service_["healthCheckPath"] == "/healthz"
