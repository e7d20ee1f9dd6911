"""Channels' AllowedHostsOriginValidator, plus the log line it lacks (channels#2062).

A rejected Origin is answered with HTTP 403 before any consumer runs; without this log the
only symptom is a client-side 1006.
"""

import logging

from channels.security.websocket import AllowedHostsOriginValidator, OriginValidator
from django.conf import settings

logger = logging.getLogger("wsauth")


class LoggingOriginValidator(OriginValidator):
    async def __call__(self, scope, receive, send):
        # valid_origin() runs synchronously right after this, before any await, so a
        # shared instance cannot see another connection's scope here.
        self._scope = scope
        return await super().__call__(scope, receive, send)

    def valid_origin(self, parsed_origin):
        if parsed_origin is None and settings.WS_ALLOW_MISSING_ORIGIN:
            return True
        if super().valid_origin(parsed_origin):
            return True
        origin = parsed_origin.geturl() if parsed_origin is not None else "(none)"
        logger.warning(
            "websocket rejected: path=%s status=403 reason=origin %s is not in ALLOWED_HOSTS %s; "
            "add its host to ALLOWED_HOSTS",
            self._scope.get("path"),
            origin,
            self.allowed_origins,
        )
        return False


def LoggingAllowedHostsOriginValidator(application):
    allowed = AllowedHostsOriginValidator(application).allowed_origins
    return LoggingOriginValidator(application, allowed)
