"""Revoked credentials and lost access close their open sockets, on every server.

At once: logging out, "log out everywhere", deactivating or deleting a user (tokens.signals sends
`credentials_revoked` after the commit) is broadcast to one group, REVOCATIONS_GROUP. Each process
is a single member of it (realtime.groups), however many sockets it serves, and keeps its own
index of authenticated sockets by user, so a revocation costs one message per process and a
dictionary lookup, not a layer membership per socket or a handler call on every socket. A change
of what a user may see (a membership removed, staff taken away) is broadcast the same way
(`auth.changed`): the process checks that user's sockets again.

Whatever the broadcast missed: every WS_RECHECK_SECONDS each process checks the logins of all
its open sockets in a few queries (tokens.store.revoked_credentials) and asks each consumer class
which of its sockets lost access (JsonProtocolConsumer.lost_access). A revocation made while
Redis was down, from a process without a channel layer (a script, `manage.py shell`), or by a
queryset update() that sends no signal, closes its sockets within that bound. While the database
cannot answer, nothing is closed: the check says so and tries again.
"""

import asyncio
import logging
import weakref

from channels.db import database_sync_to_async
from django.conf import settings
from django.dispatch import receiver

from tokens.signals import credentials_revoked

from .broadcast import BroadcastUnavailable, broadcast, broadcast_on_commit
from .errors import describe
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
        self._checking = None  # the task checking every open socket every WS_RECHECK_SECONDS
        self._rechecks = set()  # checks of one user's sockets after an auth.changed (kept referenced)

    async def watch(self, consumer):
        """Close consumer (`await consumer.credential_revoked(event)`) when its user's
        credentials are revoked. Raises if the layer cannot be joined."""
        self.by_user.setdefault(consumer.user.pk, {})[consumer] = None
        if settings.WS_RECHECK_SECONDS > 0 and (self._checking is None or self._checking.done()):
            self._checking = asyncio.get_running_loop().create_task(self._check_while_watching())
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

    async def _check_while_watching(self):
        failing = False
        while self.by_user:
            await asyncio.sleep(settings.WS_RECHECK_SECONDS)
            try:
                await self.check()
            except Exception as error:  # noqa: BLE001 - the database is away: the sockets stay, checked again
                if not failing:
                    logger.warning("the logins of %d open socket(s) could not be checked (%s); they stay open and are "
                                   "checked again every %g s", self.socket_count(), describe(error),
                                   settings.WS_RECHECK_SECONDS)
                failing = True
                continue
            if failing:
                logger.info("the logins of open sockets are checked again")
            failing = False

    def socket_count(self):
        return sum(len(sockets) for sockets in self.by_user.values())

    async def check(self, user_ids=None):
        """Close the sockets (of user_ids, or all) whose login was revoked (4001) or whose access
        is gone (the consumer's access_lost). Raises if the database cannot answer in time."""
        consumers = [consumer for user_id, sockets in list(self.by_user.items())
                     if user_ids is None or user_id in user_ids for consumer in sockets]
        if not consumers:
            return
        async with asyncio.timeout(max(settings.WS_AUTH_TIMEOUT, settings.WS_RECHECK_SECONDS)):
            revoked, lost = await database_sync_to_async(_verdicts)(consumers)
        for consumer in revoked:
            await self._close(consumer.credential_revoked, {"type": "auth.revoked", "user_id": consumer.user.pk,
                                                            "found_by": "check"})
        for consumer, what in lost.items():
            await self._close(consumer.access_lost, what)

    async def _close(self, close, argument):
        try:
            await close(argument)
        except Exception:  # noqa: BLE001 - the other sockets must still be closed
            logger.exception("closing a socket after its access changed failed")

    async def group_event(self, event):
        if event.get("type") == "auth.changed":
            if event.get("user_id") in self.by_user:
                task = asyncio.get_running_loop().create_task(self._check_user(event["user_id"]))
                self._rechecks.add(task)
                task.add_done_callback(self._rechecks.discard)
            return
        if event.get("type") != "auth.revoked":
            return
        credentials = event.get("credentials")
        for consumer in list(self.by_user.get(event.get("user_id"), ())):
            if credentials is None or consumer.credential in credentials:
                try:
                    await consumer.credential_revoked(event)
                except Exception:  # noqa: BLE001 - the other sockets of the user must still close
                    logger.exception("closing a socket of user %s after a revocation failed", event.get("user_id"))

    async def _check_user(self, user_id):
        try:
            await self.check({user_id})
        except Exception as error:  # noqa: BLE001 - the periodic check tries again
            logger.warning("the sockets of user %s could not be checked after a change of access (%s); the next "
                           "check in at most %g s does it", user_id, describe(error),
                           settings.WS_RECHECK_SECONDS)


def _verdicts(consumers):
    """(sockets whose login is revoked, {socket: what access_lost() gets} for the others)."""
    from tokens import store  # models: this module is imported before Django is set up (consumers)

    revoked_indexes = store.revoked_credentials(
        [(consumer.user.pk, consumer.credential, consumer.authenticated_at) for consumer in consumers])
    revoked = [consumer for index, consumer in enumerate(consumers) if index in revoked_indexes]
    by_class = {}
    for index, consumer in enumerate(consumers):
        if index not in revoked_indexes:
            by_class.setdefault(type(consumer), []).append(consumer)
    lost = {}
    for consumer_class, members in by_class.items():
        lost.update(consumer_class.lost_access(members))
    return revoked, lost


def announce_access_changed(user_id):
    """What user_id may see changed (a membership removed, staff taken away): once this commits,
    every process checks that user's open sockets again. Lost broadcasts are caught by the
    periodic check."""
    broadcast_on_commit(REVOCATIONS_GROUP, {"type": "auth.changed", "user_id": user_id})


def access_of_user_changed(sender, instance, created, update_fields=None, **kwargs):
    """post_save of a user: staff or team may have changed (a login's last_login update is not a change)."""
    if not created and set(update_fields or ()) != {"last_login"}:
        announce_access_changed(instance.pk)


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
