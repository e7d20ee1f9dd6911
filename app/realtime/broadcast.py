"""Sending to a channel-layer group from sync code: views, services, signal handlers.

(Consumers are async and await self.channel_layer.group_send themselves.)
"""

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from redis.exceptions import RedisError

from .errors import describe

logger = logging.getLogger("realtime")


class BroadcastUnavailable(Exception):
    """The channel layer did not take the message (Redis down, paused or saturated)."""


async def _group_send(group, event):
    try:
        async with asyncio.timeout(settings.CHANNEL_LAYER_SEND_TIMEOUT):
            await get_channel_layer().group_send(group, event)
    except TimeoutError:
        raise BroadcastUnavailable(
            f"the channel layer did not answer within {settings.CHANNEL_LAYER_SEND_TIMEOUT} s "
            "(CHANNEL_LAYER_SEND_TIMEOUT): is Redis up and responsive?"
        ) from None
    except (OSError, RedisError) as error:  # refused, reset, no connection free in the pool
        raise BroadcastUnavailable(f"the channel layer is unreachable: {describe(error)}") from None


def broadcast(group, event):
    """Send event to every socket in group, whichever process serves it. Raises
    BroadcastUnavailable, within CHANNEL_LAYER_SEND_TIMEOUT seconds, when the layer cannot take it."""
    async_to_sync(_group_send)(group, event)


def _broadcast_committed(group, event):
    try:
        broadcast(group, event)
    except BroadcastUnavailable as error:
        # The row is saved; the sockets miss this push and reload what they missed from the HTTP
        # API when they reconnect.
        logger.warning("push to group %s (%s) not sent: %s", group, event.get("type"), error)


def broadcast_on_commit(group, event):
    """broadcast() once the current transaction commits (at once outside a transaction), so no
    client hears of a row that is then rolled back. A push the layer cannot take is logged, not
    raised: the change itself is saved."""
    transaction.on_commit(lambda: _broadcast_committed(group, event))
