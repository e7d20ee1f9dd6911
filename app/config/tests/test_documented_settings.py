"""What the settings read, what README.md's Configuration table documents and what the example
env files name stay in step: a variable read but undocumented, or an example naming one nothing
reads (a typo, a removed setting), fails here."""

import fnmatch
import re
from pathlib import Path

import yaml

REPO_DIR = Path(__file__).resolve().parents[3]
SETTINGS_DIR = REPO_DIR / "app" / "config" / "settings"
EXAMPLE_LINE = re.compile(r"^#?([A-Z][A-Z0-9_]+)=", re.MULTILINE)


def variables_read_by_settings():
    names = set()
    for path in SETTINGS_DIR.glob("*.py"):
        names |= set(re.findall(r"\b(?:env(?:\.\w+)?|require)\(\s*\"([A-Z][A-Z0-9_]+)\"", path.read_text(), re.S))
    return names


def documented_in_readme():
    text = (REPO_DIR / "README.md").read_text()
    section = text[text.index("## Configuration\n"):]
    section = section[: section.index("\n## ", 1)]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {name for cell in first_cells for name in re.findall(r"`([A-Z*][A-Z0-9_*]*)`", cell)}


def test_the_settings_read_what_this_test_finds():
    names = variables_read_by_settings()
    # Negative control of the parser: a few from each profile, across lines and types.
    assert {"SECRET_KEY", "WS_AUTH_BACKENDS", "MONITORING_ALLOWED_IPS", "DATABASE_URL", "STATIC_ROOT",
            "SECURE_HSTS_SECONDS", "API_SCHEMA_PUBLIC"} <= names


def test_every_variable_the_settings_read_is_in_the_configuration_table():
    documented = documented_in_readme()
    missing = [name for name in sorted(variables_read_by_settings())
               if not any(fnmatch.fnmatchcase(name, pattern) for pattern in documented)]
    assert missing == [], "add them to README.md's Configuration table"


def test_the_development_example_names_only_what_the_settings_read():
    text = (REPO_DIR / ".env.example").read_text()
    named = set(EXAMPLE_LINE.findall(text))
    assert named and named - variables_read_by_settings() == set()
    assert "cp .env.example app/.env" in text


def test_the_compose_file_gives_the_app_only_what_the_settings_read():
    compose = yaml.safe_load((REPO_DIR / "docker-compose.prod.yml").read_text())
    given = {name for service in compose["services"].values()
             if isinstance(service.get("environment"), dict) and "SECRET_KEY" in service["environment"]
             for name in service["environment"]}
    assert given and given - variables_read_by_settings() == set()


def test_the_license_is_mit():
    assert (REPO_DIR / "LICENSE").read_text().startswith("MIT License\n")
