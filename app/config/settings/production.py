"""Production: refuses to start on a missing secret or Redis, secure by default.

`python manage.py check --deploy` with these settings reports nothing.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False


def require(name, why):
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(
            f"{name} is not set. {why} Set it in the environment (or the EnvironmentFile "
            f"of the service) and start again."
        )
    return value


SECRET_KEY = require(
    "SECRET_KEY",
    "Production needs a long random secret key; generate one with: "
    "python -c 'import secrets; print(secrets.token_urlsafe(50))'.",
)
REDIS_URL = require(
    "REDIS_URL",
    "Production needs Redis for the channel layer: without it broadcasts never cross "
    "processes. Example: REDIS_URL=redis://127.0.0.1:6379/0.",
)
CHANNEL_LAYERS = {"default": redis_channel_layer(REDIS_URL)}  # noqa: F405
if not ALLOWED_HOSTS:  # noqa: F405
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is empty, so every request and WebSocket handshake would be refused. "
        "Set ALLOWED_HOSTS=example.com (comma-separated for several)."
    )

# TLS ends at the proxy (nginx), which sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=63072000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
