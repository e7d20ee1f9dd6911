"""ASGI middleware that runs the WS_AUTH_BACKENDS chain and records the outcome in the scope.

It never closes the connection itself: consumers decide (4001 if they need a user), so the
client gets a close code it can act on instead of a bare HTTP 403.
Scope keys set: user, auth_method, auth_error, auth_subprotocol, auth_credential (what a
revocation names, never the credential itself), and auth_unavailable (why, for the log) when the credential could
not be checked (the database did not answer within WS_AUTH_TIMEOUT: the consumer closes 4013).
"""

import asyncio
import logging

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError

from tokens.verifiers import instances

logger = logging.getLogger("wsauth")


def get_backends():
    return instances(tuple(settings.WS_AUTH_BACKENDS))


async def authenticate_scope(scope):
    for backend in get_backends():
        result = await backend.authenticate(scope)
        if result is not None:
            return result
    return None


class WebSocketAuthMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        try:
            # Bounded: a stalled database held handshakes until nginx gave up (502 after 9.7 s,
            # unauthenticated ones too); the consumer closes these with 4013 instead.
            async with asyncio.timeout(settings.WS_AUTH_TIMEOUT):
                result = await authenticate_scope(scope)
        except (TimeoutError, DatabaseError) as error:
            reason = (f"no answer within {settings.WS_AUTH_TIMEOUT} s (WS_AUTH_TIMEOUT): the database, or this "
                      "process's one database thread, is busy (a storm of connects queues there) or stalled"
                      if isinstance(error, TimeoutError) else f"database error ({type(error).__name__})")
            logger.warning("websocket credential check failed: path=%s reason=%s", scope.get("path"), reason)
            result, scope["auth_unavailable"] = None, reason
        scope["user"] = result.user if result and result.user else AnonymousUser()
        scope["auth_method"] = result.method if result and result.user else ""
        scope["auth_error"] = result.error if result else ""
        scope["auth_subprotocol"] = result.subprotocol if result else None
        scope["auth_credential"] = result.credential if result and result.user else None
        return await self.inner(scope, receive, send)


def WebSocketAuthMiddlewareStack(inner):
    """The backend chain (the session backend reads the session cookie itself)."""
    return WebSocketAuthMiddleware(inner)
