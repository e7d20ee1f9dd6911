"""The deep report's token_cache check counts the token store's rows and warns, with the fix,
once they pass TOKEN_CACHE_WARN_ENTRIES (issue 20): nothing is evicted to make room, so a
table that keeps growing is for an operator to see."""

import time

import pytest

from health.checks import DEGRADED, OK, check_token_cache
from tokens import store
from tokens.cache import TokenDatabaseCache

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_token_table")]


def store_expired(count):
    cache = TokenDatabaseCache(store.token_cache().table, {"OPTIONS": {"MAX_ENTRIES": 10**9}})
    for number in range(count):
        cache.set(f"{store.TOKEN_PREFIX}expired-{number}", {"user_id": 0, "expires_at": time.time() - 1}, timeout=-1)


def test_under_the_warning_size_the_figures_are_shown(alice, settings):
    settings.TOKEN_CACHE_WARN_ENTRIES = 5
    for _ in range(3):
        store.issue_token(alice)
    store.issue_ticket(alice)
    store_expired(1)
    check = check_token_cache()
    assert check.status == OK and check.recommendation == ""
    assert check.detail == {"backend": "tokens.cache.TokenDatabaseCache", "live_entries": 4, "expired_entries": 1,
                            "warn_entries": 5, "max_entries": 100_000}


def test_past_it_with_live_tokens_the_check_is_degraded_with_the_fix(alice, settings):
    settings.TOKEN_CACHE_WARN_ENTRIES = 3
    for _ in range(4):
        store.issue_token(alice)
    check = check_token_cache()
    assert check.status == DEGRADED and check.detail["live_entries"] == 4
    for advice in ("4 valid tokens and tickets", "TOKEN_CACHE_WARN_ENTRIES (3)", "TOKEN_TTL_SECONDS",
                   "clear_expired_tokens", "TOKEN_CACHE_MAX_ENTRIES"):
        assert advice in check.recommendation, advice


# The async tests reach the database from sync_to_async's worker thread (see test_health.py).
@pytest.mark.django_db(transaction=True)
async def test_the_report_says_degraded_and_still_answers_200(alice, settings, async_client):
    from asgiref.sync import sync_to_async

    settings.TOKEN_CACHE_WARN_ENTRIES = 1
    # The cache table is no model's: the rows of earlier transactional tests outlive their flush.
    await sync_to_async(store.token_cache().clear)()
    await sync_to_async(lambda: [store.issue_token(alice) for _ in range(2)])()
    response = await async_client.get("/api/websocket/health/")  # from loopback: the operator's full report
    body = response.json()
    assert response.status_code == 200  # degraded works: no 503 that would take the host out of service
    assert body["checks"]["token_cache"]["status"] == DEGRADED
    assert any(line.startswith("token_cache: 2 valid tokens") for line in body["recommendations"])


def test_past_it_with_expired_rows_the_report_says_the_clean_up_is_not_running(alice, settings):
    settings.TOKEN_CACHE_WARN_ENTRIES = 3
    store.issue_token(alice)
    store_expired(5)
    check = check_token_cache()
    assert check.status == DEGRADED and (check.detail["live_entries"], check.detail["expired_entries"]) == (1, 5)
    assert "5 expired tokens and tickets wait" in check.recommendation
    assert "clean-up is not running" in check.recommendation and "clear_expired_tokens" in check.recommendation
    store.token_cache().delete_expired()
    assert check_token_cache().status == OK
