import asyncio
import time

import pytest
from django.db import connection

from tokens import store


def test_token_round_trip_and_revoke(alice):
    issued = store.issue_token(alice)
    assert store.user_for_token(issued.value) == alice
    assert store.revoke_token(issued.value) is True
    assert store.user_for_token(issued.value) is None
    assert store.revoke_token(issued.value) is False


def test_tokens_are_random_and_stored_hashed(alice):
    first, second = store.issue_token(alice), store.issue_token(alice)
    assert first.value != second.value and len(first.value) >= 40
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key, value FROM token_cache")
        rows = " ".join(f"{k} {v}" for k, v in cursor.fetchall())
    assert first.value not in rows and second.value not in rows
    assert store._digest(first.value) in rows


def test_token_expires_after_its_ttl(alice):
    issued = store.issue_token(alice, ttl=1)
    assert store.user_for_token(issued.value) == alice
    time.sleep(1.2)
    assert store.user_for_token(issued.value) is None


def test_expiry_is_checked_even_if_the_cache_still_returns_the_row(alice, monkeypatch):
    issued = store.issue_token(alice, ttl=60)
    monkeypatch.setattr(store.time, "time", lambda: issued.expires_at + 1)
    assert store.user_for_token(issued.value) is None


def test_inactive_users_tokens_stop_working(alice):
    issued = store.issue_token(alice)
    alice.is_active = False
    alice.save()
    assert store.user_for_token(issued.value) is None


@pytest.mark.parametrize("raw", ["", None, "not-a-token", "a.b.c"])
def test_unknown_tokens_are_rejected(db, raw):
    assert store.user_for_token(raw) is None


def test_ticket_is_single_use(alice):
    ticket = store.issue_ticket(alice)
    assert store.redeem_ticket(ticket.value) == alice
    assert store.redeem_ticket(ticket.value) is None


def test_ticket_lifetime_follows_the_setting(alice, settings):
    settings.WS_TICKET_TTL_SECONDS = 1
    ticket = store.issue_ticket(alice)
    assert ticket.expires_in <= 1
    time.sleep(1.2)
    assert store.redeem_ticket(ticket.value) is None


def test_a_token_is_not_a_ticket(alice):
    token = store.issue_token(alice)
    assert store.redeem_ticket(token.value) is None


def test_ticket_race_has_one_winner_when_both_read_before_either_deletes(alice, bob, monkeypatch):
    """The worst interleaving, made deterministic: racer B redeems completely between racer
    A's read and A's delete. The DELETE's row count decides: B wins, A gets nothing.
    (Real concurrent handshakes on two daphne processes: tests/live/test_shared_tokens.py.)"""
    ticket = store.issue_ticket(alice).value
    cache = store.token_cache()
    real_get = cache.get
    results = {}

    def get_then_let_b_run(key, *args, **kwargs):
        record = real_get(key, *args, **kwargs)
        if "b" not in results:
            results["b"] = None
            results["b"] = store.redeem_ticket(ticket)
        return record

    monkeypatch.setattr(cache, "get", get_then_let_b_run)
    results["a"] = store.redeem_ticket(ticket)
    assert results == {"a": None, "b": alice}


def test_a_credential_the_cache_did_not_store_is_never_handed_out(alice, monkeypatch):
    monkeypatch.setattr(store.token_cache(), "add", lambda *args, **kwargs: False)
    with pytest.raises(store.CredentialNotStored, match="did not save a new token"):
        store.issue_token(alice)
    with pytest.raises(store.CredentialNotStored, match="did not save a new ticket"):
        store.issue_ticket(alice)


@pytest.mark.django_db(transaction=True)
async def test_one_token_cache_serves_every_socket_context():
    """caches[alias] is per async context: each WebSocket handshake made its own DatabaseCache,
    kept for the socket's life. The token store shares one per process."""
    import contextvars

    from asgiref.sync import sync_to_async

    from tokens import store

    seen = []  # the caches themselves: ids of collected objects are reused

    def lookup():
        seen.append(store.token_cache())
        return store.user_for_token("no-such-token")

    for _ in range(3):
        await asyncio.get_running_loop().create_task(sync_to_async(lookup)(), context=contextvars.Context())
    assert len({id(cache) for cache in seen}) == 1
