"""Revoked credentials close their open sockets, on every server, within a moment.

Logging out, "log out everywhere", deactivating or deleting a user (tokens.signals sends
`credentials_revoked` after the commit) is broadcast to one group, REVOCATIONS_GROUP. Each process
is a single member of it (realtime.groups), however many sockets it serves, and keeps its own
index of authenticated sockets by user, so a revocation costs one message per process and a
dictionary lookup, not a layer membership per socket or a handler call on every socket.
"""

import logging
import weakref

from django.dispatch import receiver

from tokens.signals import credentials_revoked

from .broadcast import BroadcastUnavailable, broadcast
from .groups import local_groups, per_loop

logger = logging.getLogger("realtime")

REVOCATIONS_GROUP = "auth.revocations"

_by_loop = weakref.WeakKeyDictionary()  # event loop -> {layer id: Revocations}


def revocations(channel_layer):
    """This event loop's Revocations for channel_layer."""
    return per_loop(_by_loop, channel_layer, Revocations)


class Revocations:
    """This event loop's authenticated sockets, by user id."""

    def __init__(self, channel_layer):
        self.layer = channel_layer
        self.by_user = {}

    async def watch(self, consumer):
        """Close consumer (`await consumer.credential_revoked(event)`) when its user's
        credentials are revoked. Raises if the layer cannot be joined."""
        self.by_user.setdefault(consumer.user.pk, {})[consumer] = None
        try:
            await local_groups(self.layer).join(REVOCATIONS_GROUP, self)
        except BaseException:
            self.unwatch(consumer)
            raise

    def unwatch(self, consumer):
        user_id = getattr(getattr(consumer, "user", None), "pk", None)
        sockets = self.by_user.get(user_id)
        if sockets is None or consumer not in sockets:
            return
        del sockets[consumer]
        if not sockets:
            del self.by_user[user_id]
        if not self.by_user:
            local_groups(self.layer).leave(REVOCATIONS_GROUP, self)

    async def group_event(self, event):
        if event.get("type") != "auth.revoked":
            return
        credentials = event.get("credentials")
        for consumer in list(self.by_user.get(event.get("user_id"), ())):
            if credentials is None or consumer.credential in credentials:
                try:
                    await consumer.credential_revoked(event)
                except Exception:  # noqa: BLE001 - the other sockets of the user must still close
                    logger.exception("closing a socket of user %s after a revocation failed", event.get("user_id"))


@receiver(credentials_revoked, dispatch_uid="realtime.revocation")
def close_revoked_sockets(sender, user_id, credentials, **kwargs):
    event = {"type": "auth.revoked", "user_id": user_id, "credentials": credentials}
    try:
        broadcast(REVOCATIONS_GROUP, event)
    except BroadcastUnavailable as error:
        # The credential is revoked all the same (no new socket or request gets in with it);
        # sockets already open with it stay open until they reconnect.
        logger.warning("revocation of %s of user %s not sent to open sockets: %s",
                       "every credential" if credentials is None else f"{len(credentials)} credential(s)",
                       user_id, error)
