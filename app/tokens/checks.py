"""System check: a token cache that may drop valid tokens to make room."""

from django.conf import settings
from django.core.cache.backends.db import DatabaseCache
from django.core.checks import Tags, Warning, register
from django.utils.module_loading import import_string

from .cache import TokenDatabaseCache


@register(Tags.caches)
def check_token_cache_keeps_valid_tokens(app_configs, **kwargs):
    backend = settings.CACHES.get(settings.TOKEN_CACHE_ALIAS, {}).get("BACKEND", "")
    try:
        backend_class = import_string(backend)
    except ImportError:
        return []  # Django's own cache checks report a backend that cannot be imported
    if isinstance(backend_class, type) and issubclass(backend_class, DatabaseCache) and not issubclass(
        backend_class, TokenDatabaseCache
    ):
        return [
            Warning(
                f"The token cache '{settings.TOKEN_CACHE_ALIAS}' uses Django's DatabaseCache, which deletes a share "
                "of the valid tokens once its table passes MAX_ENTRIES: users are logged out at random.",
                hint="Use tokens.cache.TokenDatabaseCache (the default), which deletes expired entries only.",
                id="tokens.W001",
            )
        ]
    return []
