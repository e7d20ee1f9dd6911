"""A valid token is never evicted (issue 20): past TOKEN_CACHE_MAX_ENTRIES a write deletes expired
rows only, and `manage.py clear_expired_tokens` removes the expired ones on a schedule.
The concurrent storm is tests/live/test_token_store.py (a database file and PostgreSQL)."""

import io
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.cache.backends.db import DatabaseCache
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from throttling.throttles import SharedScopedRateThrottle
from tokens import store
from tokens.cache import EntryCounts, TokenDatabaseCache

APP_DIR = Path(__file__).resolve().parents[2]
PASSWORD = "pw-for-tests-1"  # conftest's make_user
TINY = 10


# Counts here are exact: every test starts from an empty token table (app/conftest.py).
pytestmark = pytest.mark.usefixtures("empty_token_table")


def with_token_cache(settings, **changes):
    options = {**settings.CACHES["tokens"].get("OPTIONS", {}), **changes.pop("OPTIONS", {})}
    settings.CACHES = {**settings.CACHES, "tokens": {**settings.CACHES["tokens"], **changes, "OPTIONS": options}}
    return store.token_cache()


@pytest.fixture
def tiny_token_cache(settings):
    cache = with_token_cache(settings, OPTIONS={"MAX_ENTRIES": TINY})
    assert isinstance(cache, TokenDatabaseCache) and cache.max_entries == TINY
    return cache


@pytest.fixture
def unthrottled_logins(monkeypatch):
    # Every login of these tests comes from one address; the limit is not what they are about.
    monkeypatch.setitem(SharedScopedRateThrottle.THROTTLE_RATES, "login", "1000000/min")


def store_expired(user, count, prefix=store.TOKEN_PREFIX):
    """Rows as an expired token's (or ticket's) are: the record, a timeout in the past. Written
    through an instance without a limit: writes past the test's tiny one would cull the rows
    written before."""
    cache = TokenDatabaseCache(store.token_cache().table, {"OPTIONS": {"MAX_ENTRIES": 10**9}})
    raws = []
    for _ in range(count):
        raw = secrets.token_urlsafe(32)
        now = time.time()
        cache.set(prefix + store._digest(raw), {"user_id": user.pk, "expires_at": now - 1, "issued_at": now - 60},
                  timeout=-1)
        raws.append(raw)
    assert cache.entry_counts().expired >= count
    return raws


def login(client):
    response = client.post("/api/auth/login/", {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def test_a_thousand_logins_past_a_tiny_limit_leave_every_token_and_ticket_valid(
    alice, tiny_token_cache, unthrottled_logins, settings
):
    settings.WS_TICKET_TTL_SECONDS = 3600  # the run takes seconds; the default 30 s is not what is tested
    expired = store_expired(alice, 40) + store_expired(alice, 10, prefix=store.TICKET_PREFIX)
    client = APIClient()
    tokens, tickets = [], []
    for number in range(1000):
        tokens.append(login(client))
        if number % 10 == 0:  # and some issued directly, as the ticket API and other callers do
            tokens.append(store.issue_token(alice).value)
            tickets.append(store.issue_ticket(alice, token=tokens[-1]).value)
    assert len(set(tokens)) == 1100 and len(tickets) == 100
    assert [raw for raw in tokens if store.user_for_token(raw) != alice] == []
    # 1,200 live rows, more than a hundred times the limit; the writes culled every expired one.
    assert tiny_token_cache.entry_counts() == EntryCounts(live=1200, expired=0)
    assert [raw for raw in expired if store.user_for_token(raw) is not None] == []
    assert [raw for raw in tickets if store.redeem_ticket(raw) != alice] == []


def test_negative_control_djangos_own_database_cache_drops_valid_tokens(alice, settings):
    """The same steps with Django's DatabaseCache: it culls live tokens once past the limit
    (what the issue saw: two more logins and 8 of 10 still worked), so the test above can fail."""
    cache = with_token_cache(settings, BACKEND="django.core.cache.backends.db.DatabaseCache",
                             OPTIONS={"MAX_ENTRIES": TINY})
    assert type(cache) is DatabaseCache
    tokens = [store.issue_token(alice).value for _ in range(TINY + 2)]
    assert sum(store.user_for_token(raw) == alice for raw in tokens) < len(tokens)


@pytest.mark.parametrize("cull_frequency", [3, 0])
def test_a_write_past_the_limit_deletes_expired_rows_and_never_a_live_one(alice, settings, cull_frequency):
    """CULL_FREQUENCY=0 makes Django's cull empty the whole table; here it changes nothing."""
    cache = with_token_cache(settings, OPTIONS={"MAX_ENTRIES": 3, "CULL_FREQUENCY": cull_frequency})
    live = [store.issue_token(alice).value for _ in range(5)]  # already past the limit: nothing to cull
    store_expired(alice, 4)
    assert cache.entry_counts() == EntryCounts(live=5, expired=4)
    live.append(store.issue_token(alice).value)  # 9 rows > 3: this write culls
    assert cache.entry_counts() == EntryCounts(live=6, expired=0)
    assert all(store.user_for_token(raw) == alice for raw in live)


def test_a_write_culls_one_bounded_batch_and_leaves_the_rest_to_the_clean_up(alice, settings, monkeypatch):
    from tokens import cache as cache_module

    monkeypatch.setattr(cache_module, "CULL_BATCH", 3)
    cache = with_token_cache(settings, OPTIONS={"MAX_ENTRIES": 2})
    store_expired(alice, 7)
    store.issue_token(alice)
    assert cache.entry_counts() == EntryCounts(live=1, expired=4)


def clear_expired(**options):
    out = io.StringIO()
    call_command("clear_expired_tokens", stdout=out, **options)
    return out.getvalue()


def test_the_clean_up_removes_expired_entries_only_and_is_idempotent(alice, settings):
    cache = store.token_cache()
    live_tokens = [store.issue_token(alice).value for _ in range(12)]
    settings.WS_TICKET_TTL_SECONDS = 600
    live_ticket = store.issue_ticket(alice).value
    expired = store_expired(alice, 25) + store_expired(alice, 5, prefix=store.TICKET_PREFIX)
    assert cache.entry_counts() == EntryCounts(live=13, expired=30)

    # batches of 7: several full ones, then a short one, and every expired row is gone
    assert clear_expired(batch_size=7) == "clear_expired_tokens: removed 30 expired entries from token_cache; " \
                                          "13 live remain.\n"
    assert cache.entry_counts() == EntryCounts(live=13, expired=0)
    assert all(store.user_for_token(raw) == alice for raw in live_tokens)
    assert store.redeem_ticket(live_ticket) == alice
    assert not [raw for raw in expired if store.user_for_token(raw)]
    assert clear_expired().startswith("clear_expired_tokens: removed 0 expired entries")


def test_the_clean_up_says_what_is_wrong_with_its_options(db):
    with pytest.raises(CommandError) as refused:
        clear_expired(batch_size=0, every=-1)
    assert str(refused.value) == "--batch-size 0: give 1 or more; --every -1: give a number of seconds above 0"


def test_the_clean_up_has_nothing_to_do_on_another_store(db, settings):
    with_token_cache(settings, BACKEND="django.core.cache.backends.locmem.LocMemCache")
    assert "LocMemCache, not tokens.cache.TokenDatabaseCache: nothing to clean here" in clear_expired()


def test_djangos_own_database_cache_as_token_store_is_warned_about(settings):
    from django.core.checks import run_checks

    assert "tokens.W001" not in [m.id for m in run_checks()]
    with_token_cache(settings, BACKEND="django.core.cache.backends.db.DatabaseCache")
    warning = next(m for m in run_checks() if m.id == "tokens.W001")
    assert "tokens.cache.TokenDatabaseCache" in warning.hint


# --- The command in a process of its own, as the timer and the compose service run it ---------
def manage(database_url, *args, **kwargs):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.dev", DATABASE_URL=database_url)
    return subprocess.Popen([sys.executable, "manage.py", *args], cwd=APP_DIR, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.mark.process
def test_a_missing_table_is_an_error_with_the_fix_and_no_traceback(tmp_path):
    process = manage(f"sqlite:///{tmp_path / 'empty.sqlite3'}", "clear_expired_tokens")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1, out + err
    assert "CommandError: the token store's table token_cache cannot be cleaned" in err
    assert "manage.py migrate" in err and "Traceback" not in err


@pytest.mark.process
def test_every_keeps_cleaning_retries_a_failure_and_stops_on_sigterm(tmp_path):
    """The compose service's mode: the table does not exist yet (migrations not applied), so a
    pass fails and is retried; once migrated a pass goes through; SIGTERM ends it with 0."""
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    process = manage(url, "clear_expired_tokens", "--every", "0.2")
    try:
        first_error = next(line for line in process.stderr if "clear_expired_tokens:" in line)
        assert "cannot be cleaned" in first_error and "Trying again in 0.2 s." in first_error
        migrate = manage(url, "migrate", "--no-input")
        assert migrate.wait(timeout=120) == 0, migrate.stderr.read()
        line = process.stdout.readline()
        assert line == "clear_expired_tokens: removed 0 expired entries from token_cache; 0 live remain.\n"
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert out.rstrip().endswith("clear_expired_tokens: stopped.") and "Traceback" not in err
