"""Sending to a channel-layer group from sync code: views, services, signal handlers.

(Consumers are async and await self.channel_layer.group_send themselves.)
"""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def broadcast(group, event):
    """Send event to every socket in group, whichever process serves it."""
    async_to_sync(get_channel_layer().group_send)(group, event)


def broadcast_on_commit(group, event):
    """broadcast() once the current transaction commits (at once outside a transaction), so no
    client hears of a row that is then rolled back."""
    transaction.on_commit(lambda: broadcast(group, event))
