"""System checks that turn the classic silent misconfigurations into plain words."""

from channels_redis import core
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.utils.module_loading import import_string

from .backends import backend_name, is_per_process_cache, is_per_process_layer


@register(Tags.caches)
def check_token_cache(app_configs, **kwargs):
    backend = settings.CACHES.get(settings.TOKEN_CACHE_ALIAS, {}).get("BACKEND", "")
    if is_per_process_cache(backend):
        return [
            Error(
                f"The token cache '{settings.TOKEN_CACHE_ALIAS}' uses {backend_name(backend)}, which "
                "each process keeps to itself: a token issued by the HTTP server is unknown to daphne "
                "(WebSocket close 4001).",
                hint="Use django.core.cache.backends.db.DatabaseCache (`manage.py migrate` creates its table) "
                "or Redis.",
                id="realtime.E001",
            )
        ]
    return []


@register()
def check_channel_layer(app_configs, **kwargs):
    backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    if is_per_process_layer(backend) and not settings.DEBUG:
        return [
            Warning(
                "The in-memory channel layer does not cross processes: group_send from one process never "
                "reaches sockets served by another.",
                hint="Set REDIS_URL to use channels_redis.",
                id="realtime.W001",
            )
        ]
    return []


def uses_core_redis_layer(backend):
    """channels_redis's core layer or a subclass (realtime.layers): the one with the blocking receive."""
    try:
        layer_class = import_string(backend)
    except ImportError:
        return False
    return isinstance(layer_class, type) and issubclass(layer_class, core.RedisChannelLayer)


# channels_redis.core.RedisChannelLayer.brpop_timeout: how long one receive blocks in Redis.
CHANNELS_REDIS_BLOCKING_RECEIVE = 5


@register()
def check_redis_socket_timeout(app_configs, **kwargs):
    backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    hosts = settings.CHANNEL_LAYERS.get("default", {}).get("CONFIG", {}).get("hosts", [])
    if not uses_core_redis_layer(backend):
        return []
    for host in hosts:
        timeout = host.get("socket_timeout", 5) if isinstance(host, dict) else 5  # redis-py 8's default
        if timeout is not None and timeout <= CHANNELS_REDIS_BLOCKING_RECEIVE + 1:
            return [
                Error(
                    f"The Redis socket timeout ({timeout} s) is not longer than channels_redis's "
                    f"{CHANNELS_REDIS_BLOCKING_RECEIVE} s blocking receive: every consumer idle for that "
                    "long crashes and its WebSocket closes with 1011.",
                    hint="Set REDIS_SOCKET_TIMEOUT to 10 or more (default 15).",
                    id="realtime.E002",
                )
            ]
    return []
