"""Errors to Sentry (SENTRY_DSN), with every credential filtered out of what is sent.

Django's integration reports errors of views and middleware, the ASGI middleware (config.asgi)
those of WebSocket connections, the logging integration every ERROR line. Tokens and tickets
reach the server in URLs, headers, cookies and subprotocols, so before_send walks each event
(request, breadcrumbs, messages, exception values, extra) through observability.redact; local
variables and request bodies are not sent at all (they may hold a password or a token in a
variable whose name says nothing).
"""

import sentry_sdk
from django.conf import settings
from sentry_sdk.integrations.django import DjangoIntegration

from .redact import redact


def scrub_event(event, hint=None):
    return redact(event)


def scrub_breadcrumb(crumb, hint=None):
    return redact(crumb)


def init(**overrides):
    """sentry_sdk.init with this project's settings; `overrides` for tests (a capturing transport)."""
    options = {
        "dsn": settings.SENTRY_DSN,
        "environment": settings.SENTRY_ENVIRONMENT,
        "server_name": settings.SERVER_INSTANCE_ID,
        "traces_sample_rate": settings.SENTRY_TRACES_SAMPLE_RATE,
        "send_default_pii": False,
        "include_local_variables": False,
        "max_request_body_size": "never",
        # Only what is named here: an auto-enabled Redis integration would record the channel
        # layer's commands (message payloads) as breadcrumbs.
        "auto_enabling_integrations": False,
        "integrations": [DjangoIntegration()],
        "before_send": scrub_event,
        "before_send_transaction": scrub_event,
        "before_breadcrumb": scrub_breadcrumb,
    }
    options.update(overrides)
    sentry_sdk.init(**options)


def wrap_asgi(app):
    """The WebSocket app inside Sentry's ASGI middleware (errors of connections, with their scope)."""
    from sentry_sdk.integrations.asgi import SentryAsgiMiddleware

    return SentryAsgiMiddleware(app)
