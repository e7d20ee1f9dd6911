"""A per-client limit counted in a per-process cache is a limit per process: with 10/min and two
HTTP workers, 20 logins a minute got through. Refused in production, as realtime.E001 refuses a
per-process token cache."""

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.utils.module_loading import import_string

from realtime.backends import backend_name, is_per_process_cache


def limit_caches():
    """{alias: what counts in it}: DRF's throttles use the default cache, django-axes its own."""
    aliases = {"default": "the API throttles (login, tickets, health)"}
    if _uses_axes_cache(getattr(settings, "AXES_HANDLER", "")):
        axes_alias = getattr(settings, "AXES_CACHE", "default")
        also = aliases[axes_alias] + " and " if axes_alias in aliases else ""
        aliases[axes_alias] = also + "the admin's login limit"
    return aliases


def _uses_axes_cache(handler):
    from axes.handlers.cache import AxesCacheHandler

    try:
        handler_class = import_string(handler)
    except ImportError:
        return False
    return isinstance(handler_class, type) and issubclass(handler_class, AxesCacheHandler)


@register(Tags.caches, Tags.security)
def check_limit_caches(app_configs, **kwargs):
    if settings.DEBUG:
        return []  # `make run`: one process, so a per-process count is the count
    errors = []
    for alias, used_by in limit_caches().items():
        backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
        if is_per_process_cache(backend):
            errors.append(
                Error(
                    f"The cache '{alias}' uses {backend_name(backend)}, which each process keeps to itself, "
                    f"and {used_by} count in it: every HTTP worker and daphne would allow the full rate on "
                    "its own.",
                    hint="Set REDIS_URL (the cache then lives in Redis) or use "
                    "django.core.cache.backends.db.DatabaseCache.",
                    id="throttling.E001",
                )
            )
    return errors
