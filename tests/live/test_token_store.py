"""A concurrent login storm loses no token (issue 20): 20 threads log in 50 times each at the
same moment through the login API, on a database file (SQLite, transactions as configured) and
on PostgreSQL, with TOKEN_CACHE_MAX_ENTRIES at 10 so that every write culls, expired rows waiting
to be culled. Every token issued still works, and only the expired rows are gone. With Django's
own DatabaseCache the same storm loses tokens (the negative control)."""

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from ops.postgres import LocalPostgres
from ops.testing.processes import django_env
from ops.testing.tools import require_tool
from ops.tools import APP_DIR

PROBE = APP_DIR / "tokens" / "tests" / "storm_probe.py"
THREADS, LOGINS, EXPIRED = 20, 50, 200


def storm(database_url, *extra, **env):
    environment = django_env("config.settings.test", database_url, PYTHONPATH=str(APP_DIR),
                             TOKEN_CACHE_MAX_ENTRIES="10", DB_POOL_MAX_SIZE=str(THREADS + 5), **env)
    result = subprocess.run([sys.executable, str(PROBE), str(THREADS), str(LOGINS), str(EXPIRED), *extra],
                            cwd=APP_DIR, env=environment, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def postgres():
    require_tool("initdb", "the storm runs on PostgreSQL too")
    require_tool("pg_ctl", "the storm runs on PostgreSQL too")
    cluster = LocalPostgres(Path("/tmp") / f"storm-pg-{secrets.token_hex(4)}")  # short: socket path limit
    cluster.directory.mkdir()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        subprocess.run(["rm", "-rf", str(cluster.directory)], check=False)


def assert_none_lost(outcome, vendor):
    everyone = THREADS * LOGINS
    assert outcome["vendor"] == vendor and outcome["max_entries"] == 10
    assert outcome["failures"] == 0, outcome["first_failures"]
    assert (outcome["tokens"], outcome["distinct"], outcome["valid"]) == (everyone, everyone, everyone), outcome
    assert (outcome["live"], outcome["expired"]) == (everyone, 0), outcome  # the writes culled every expired row


def test_a_storm_on_a_database_file_loses_no_token(tmp_path):
    assert_none_lost(storm(f"sqlite:///{tmp_path / 'storm.sqlite3'}"), "sqlite")


def test_a_storm_on_postgresql_loses_no_token(postgres):
    assert_none_lost(storm(postgres.url, PGHOST=str(postgres.socket_dir)), "postgresql")


def test_negative_control_the_same_storm_on_djangos_database_cache_loses_tokens(tmp_path):
    outcome = storm(f"sqlite:///{tmp_path / 'storm.sqlite3'}", "--django-cache")
    assert outcome["failures"] == 0 and outcome["tokens"] == THREADS * LOGINS, outcome
    assert outcome["valid"] < outcome["tokens"], outcome
