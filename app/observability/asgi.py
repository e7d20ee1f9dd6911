"""Watching WebSockets from outside the consumers: an ASGI middleware that sees every
websocket.connect / accept / receive / send / close / disconnect of a connection.

config.asgi installs it around the WebSocket app only when METRICS_ENABLED, WS_LOG_CONNECTIONS or
LOG_FORMAT=json asks for it; otherwise the app is exactly what it was, at no cost.
"""

import logging
import time

from django.conf import settings

from . import context

logger = logging.getLogger("observability.websocket")


def route_of(path):
    """The route pattern a path matches ("/ws/chat/<int:conversation_id>/"), so labels and log
    fields stay few whatever ids the paths carry; "unmatched" for the catch-all."""
    from config.routing import websocket_urlpatterns

    relative = path.lstrip("/")
    for pattern in websocket_urlpatterns:
        route = str(pattern.pattern)
        if route and pattern.pattern.match(relative):
            return "/" + route
    return "unmatched"


class Connection:
    """One WebSocket as the observer saw it; the log filter reads route and user_id."""

    __slots__ = ("route", "user_id", "accepted", "close_code", "closed_by", "started", "received", "sent")

    def __init__(self, route):
        self.route = route
        self.user_id = None
        self.accepted = False
        self.close_code = None
        self.closed_by = None  # "server" or "client"
        self.started = time.monotonic()
        self.received = self.sent = 0


class WebSocketObserver:
    """Outermost on the WebSocket side (so an Origin refusal counts too)."""

    def __init__(self, inner, metrics=False, log_connections=False):
        self.inner = inner
        self.log_connections = log_connections
        self.metrics = None
        if metrics:
            from . import metrics as metrics_module

            self.metrics = metrics_module

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)
        connection = Connection(route_of(scope.get("path", "")))
        metrics = self.metrics
        if metrics is not None:
            server = settings.SERVER_INSTANCE_ID
            open_gauge = metrics.open_sockets.labels(connection.route, server)
            received = metrics.messages_received.labels(connection.route)
            sent = metrics.messages_sent.labels(connection.route)

        async def observed_receive():
            message = await receive()
            kind = message["type"]
            if kind == "websocket.receive":
                connection.received += 1
                if metrics is not None:
                    received.inc()
            elif kind == "websocket.disconnect" and connection.closed_by is None:
                connection.closed_by, connection.close_code = "client", message.get("code", 1005)
            return message

        async def observed_send(message):
            kind = message["type"]
            if kind == "websocket.send":
                connection.sent += 1
                if metrics is not None:
                    sent.inc()
            elif kind == "websocket.accept" and not connection.accepted:
                connection.accepted = True
                if metrics is not None:
                    metrics.connects.labels(connection.route, server).inc()
                    open_gauge.inc()
            elif kind == "websocket.close" and connection.closed_by is None:
                # Before the accept the server answers the handshake with HTTP 403.
                code = message.get("code", 1000) if connection.accepted else 403
                connection.closed_by, connection.close_code = "server", code
            return await send(message)

        token = context.connection.set(connection)
        try:
            return await self.inner(scope, observed_receive, observed_send)
        finally:
            self._finished(connection, metrics, open_gauge if metrics is not None else None)
            context.connection.reset(token)

    def _finished(self, connection, metrics, open_gauge):
        if metrics is not None:
            if connection.accepted:
                open_gauge.dec()
            if connection.closed_by == "server":
                metrics.refusals.labels(connection.route, str(connection.close_code)).inc()
            elif connection.closed_by == "client":
                metrics.disconnects.labels(connection.route, str(connection.close_code)).inc()
        if self.log_connections:
            duration_ms = round((time.monotonic() - connection.started) * 1000)
            logger.info(
                "websocket closed: route=%s user_id=%s code=%s by=%s accepted=%s received=%d sent=%d duration_ms=%d",
                connection.route, connection.user_id, connection.close_code, connection.closed_by,
                connection.accepted, connection.received, connection.sent, duration_ms,
                extra={"close_code": connection.close_code, "closed_by": connection.closed_by,
                       "accepted": connection.accepted, "messages_received": connection.received,
                       "messages_sent": connection.sent, "duration_ms": duration_ms},
            )


class TagUser:
    """Inside the auth middleware: puts the authenticated user's id on the observed connection."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        connection = context.connection.get()
        user = scope.get("user")
        if connection is not None and user is not None and user.is_authenticated:
            connection.user_id = user.pk
        return await self.inner(scope, receive, send)

