"""`manage.py migrate` alone creates the token cache table, and running it again is harmless."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.process  # runs commands: not in `make unit`

APP_DIR = Path(__file__).resolve().parents[2]
TABLE = "token_cache_created_by_migrate"


def migrate(database_url):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.dev", DATABASE_URL=database_url, TOKEN_CACHE_TABLE=TABLE
    )
    return subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input"],
        cwd=APP_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def tables(path):
    with sqlite3.connect(path) as connection:
        return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_migrate_creates_the_token_cache_table_and_is_idempotent(tmp_path):
    path = tmp_path / "fresh.sqlite3"
    url = f"sqlite:///{path}"  # an absolute path: sqlite:////tmp/...

    first = migrate(url)
    assert first.returncode == 0, first.stderr
    assert TABLE in tables(path)

    second = migrate(url)
    assert second.returncode == 0, second.stderr
    assert TABLE in tables(path)
