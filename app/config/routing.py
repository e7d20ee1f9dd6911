"""All WebSocket routes, collected from the apps that own them, and a last one for the rest."""

import logging

from django.urls import re_path

from chat.routing import websocket_urlpatterns as chat_routes
from feeds.routing import websocket_urlpatterns as feed_routes
from notifications.routing import websocket_urlpatterns as notification_routes
from realtime.protocol import NOT_FOUND
from realtime.routing import websocket_urlpatterns as realtime_routes

logger = logging.getLogger("realtime")


async def no_route(scope, receive, send):
    """A WebSocket to a path no route matches: 4004 after the handshake, logged at info. Without
    it channels' URLRouter raises, daphne answers HTTP 500 and logs a server error for what is a
    client's typo. A bare ASGI app, not a consumer: refusing needs no channel or group.

    Accepted before closing because a close before accept reaches the client as a bare 403 /
    1006 (daphne cannot answer 404 to a handshake); the auth subprotocol, if any, is answered
    too, or browsers fail the handshake instead of reading the code.
    """
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    logger.info("websocket refused: path=%s code=%s reason=no route matches this path", scope.get("path"), NOT_FOUND)
    await send({"type": "websocket.accept", "subprotocol": scope.get("auth_subprotocol")})
    await send({"type": "websocket.close", "code": NOT_FOUND})


websocket_urlpatterns = [
    *realtime_routes,
    *chat_routes,
    *notification_routes,
    *feed_routes,
    re_path(r"", no_route),  # last: matches every path
]
