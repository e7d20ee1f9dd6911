"""The private parts of Django's DatabaseCache that tokens.cache relies on are still there and
still behave as it expects: an upgrade that renames or changes one fails here, by name, rather
than letting the cull delete valid tokens again."""

import inspect

import pytest
from django.core.cache.backends.db import DatabaseCache

from tokens import store
from tokens.cache import DJANGO_PRIVATE_ATTRIBUTES, DJANGO_PRIVATE_METHODS, EntryCounts, TokenDatabaseCache


@pytest.mark.parametrize(("name", "parameters"), DJANGO_PRIVATE_METHODS.items())
def test_the_private_methods_we_override_keep_their_signature(name, parameters):
    method = getattr(DatabaseCache, name, None)
    assert method is not None, f"Django's DatabaseCache has no {name} any more: rework tokens.cache"
    assert tuple(inspect.signature(method).parameters) == parameters, f"DatabaseCache.{name} changed its signature"


@pytest.mark.parametrize("name", DJANGO_PRIVATE_ATTRIBUTES)
def test_the_private_attributes_we_read_are_set(name):
    cache = TokenDatabaseCache("some_table", {"OPTIONS": {"MAX_ENTRIES": 1234}})
    assert hasattr(cache, name), f"Django's DatabaseCache sets no {name} any more: rework tokens.cache"
    assert (cache.max_entries, cache.table) == (1234, "some_table")


def test_django_still_calls_the_cull_on_a_write_past_max_entries(alice, settings):
    """What the override hangs on: DatabaseCache._base_set calls self._cull when the table holds
    more than MAX_ENTRIES rows (seen through its effect: the expired row is gone after a write)."""
    settings.CACHES = {**settings.CACHES, "tokens": {**settings.CACHES["tokens"], "OPTIONS": {"MAX_ENTRIES": 1}}}
    cache = store.token_cache()
    cache.set("expired", 1, timeout=-1)
    cache.set("live", 1, timeout=60)
    assert cache.entry_counts() == EntryCounts(live=1, expired=1)  # 1 row before that write: no cull
    cache.set("another", 1, timeout=60)
    assert cache.entry_counts() == EntryCounts(live=2, expired=0)
