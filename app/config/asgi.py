"""ASGI entry point for daphne: HTTP to Django, WebSocket through origin check and auth."""

import os
import sys

import django

from config.settings.refusals import SERVER_EXIT_STATUS, SettingsRefused

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
# Django must be set up before anything imports models (consumers, auth middleware).
try:
    django.setup(set_prefix=False)
except SettingsRefused as refused:
    # daphne, gunicorn's workers and uvicorn import this module: each prints the report (the fix is
    # in it, a traceback would bury it) and its process ends. The status is gunicorn's "App failed
    # to load", so gunicorn stops too rather than booting new workers that fail the same way.
    print(refused, file=sys.stderr, flush=True)
    sys.exit(SERVER_EXIT_STATUS)

from config.handlers import OneHopASGIHandler  # noqa: E402

django_asgi_app = OneHopASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from realtime.groups import lifespan  # noqa: E402
from wsauth.middleware import WebSocketAuthMiddlewareStack  # noqa: E402
from wsauth.origin import LoggingAllowedHostsOriginValidator  # noqa: E402


def websocket_application():
    """Origin check -> auth -> routes; observed (metrics, connection logs, log context) and
    reported to Sentry only when settings ask for it, so by default nothing wraps it."""
    observed = settings.METRICS_ENABLED or settings.WS_LOG_CONNECTIONS or settings.LOG_FORMAT == "json"
    routes = URLRouter(websocket_urlpatterns)
    if observed:
        from observability.asgi import TagUser

        routes = TagUser(routes)  # inside auth: knows the user
    app = LoggingAllowedHostsOriginValidator(WebSocketAuthMiddlewareStack(routes))
    if observed:
        from observability.asgi import WebSocketObserver

        # Outside the Origin check, so a refused handshake is counted too.
        app = WebSocketObserver(app, metrics=settings.METRICS_ENABLED, log_connections=settings.WS_LOG_CONNECTIONS)
    if settings.SENTRY_DSN:
        from observability.sentry import wrap_asgi

        app = wrap_asgi(app)
    return app


# lifespan: a server that speaks it (uvicorn) lets the process leave its channel-layer groups on
# shutdown (realtime.groups); daphne's stop is realtime.server's.
application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_application(), "lifespan": lifespan})
