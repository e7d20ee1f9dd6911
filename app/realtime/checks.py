"""System checks that turn the classic silent misconfigurations into plain words."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@register(Tags.caches)
def check_token_cache(app_configs, **kwargs):
    backend = settings.CACHES.get(settings.TOKEN_CACHE_ALIAS, {}).get("BACKEND", "")
    if backend in PER_PROCESS_CACHES:
        return [
            Error(
                f"The token cache '{settings.TOKEN_CACHE_ALIAS}' uses {backend.rsplit('.', 1)[-1]}, which "
                "each process keeps to itself: a token issued by the HTTP server is unknown to daphne "
                "(WebSocket close 4001).",
                hint="Use django.core.cache.backends.db.DatabaseCache (then run createcachetable) or Redis.",
                id="realtime.E001",
            )
        ]
    return []


@register()
def check_channel_layer(app_configs, **kwargs):
    backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    if backend == "channels.layers.InMemoryChannelLayer" and not settings.DEBUG:
        return [
            Warning(
                "The in-memory channel layer does not cross processes: group_send from one process never "
                "reaches sockets served by another.",
                hint="Set REDIS_URL to use channels_redis.",
                id="realtime.W001",
            )
        ]
    return []
