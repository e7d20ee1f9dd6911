import pytest

from realtime.backends import backend_name, is_per_process_cache, is_per_process_layer


@pytest.mark.parametrize(
    ("backend", "per_process"),
    [
        ("django.core.cache.backends.locmem.LocMemCache", True),
        ("django.core.cache.backends.dummy.DummyCache", True),
        ("django.core.cache.backends.db.DatabaseCache", False),
        ("django.core.cache.backends.redis.RedisCache", False),
        ("", False),
    ],
)
def test_per_process_cache(backend, per_process):
    assert is_per_process_cache(backend) is per_process


@pytest.mark.parametrize(
    ("backend", "per_process"),
    [
        ("channels.layers.InMemoryChannelLayer", True),
        ("channels_redis.core.RedisChannelLayer", False),
        ("channels_redis.pubsub.RedisPubSubChannelLayer", False),
        ("", False),
    ],
)
def test_per_process_layer(backend, per_process):
    assert is_per_process_layer(backend) is per_process


def test_backend_name_is_the_class_name():
    assert backend_name("django.core.cache.backends.locmem.LocMemCache") == "LocMemCache"
