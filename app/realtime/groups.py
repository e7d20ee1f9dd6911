"""Group fan-out per process: one channel-layer membership per group and process, not per socket.

Channels' own pattern gives every socket a channel and adds that channel to the layer's groups,
so every connect and disconnect is a Redis write, every socket waits on the layer with tasks of
its own, and every broadcast is handed to each socket through its own queue and task. Measured
(bench/RESULTS.md), that per-socket machinery was most of a broadcast's time and of a socket's
memory, and the Redis writes were what a connect or disconnect storm waited for.

Here each process (event loop) keeps its groups itself: the first local socket of a group makes
the process a member of the layer's group with one channel of its own; later sockets only join
a local set. A group event arrives once per process and is handed to every local member's
handler, in order, without a queue or task per socket. When the last local member leaves, the
process leaves the layer's group. Senders do not change: `channel_layer.group_send(group,
{"type": "feed.event", ...})` reaches `feed_event()` of every member, on every process.

Handlers of group events start one after another in the group's task and should send and
return (slow work belongs in the HTTP request or a task queue, before the group_send). One that
has to wait (a server's flow control holding a send for a client that does not read, as uvicorn's
does) goes on in a task of its own, so it never holds up the other members (run_eagerly).
"""

import asyncio
import logging
import secrets
import weakref

from django.conf import settings

from . import stats
from .errors import describe
from .layers import SEQUENCE_KEY

logger = logging.getLogger("realtime")

RETRY_SECONDS = 1.0
# Members handled before the fan-out lets the rest of the event loop run (pings, handshakes).
YIELD_EVERY = 256
_STOP = "realtime.groups.stop"  # a message a group's own receive loop ends on (no cancel: see _Group.stop)
# What every local member gets when this process may have missed group events (its memberships
# were lost, or the layer was unreachable): consumers send the client a `resync` frame.
RESYNC = "realtime.resync"
# How long the layer may take to say whether it still holds this process's probe membership.
PROBE_WAIT_SECONDS = 3.0
# How long a numbered event may arrive late (concurrent sends of one process can overtake each
# other) before it counts as missed.
GAP_GRACE_SECONDS = 2.0
# Numbers one hole may hold before the rest are counted without being waited for one by one.
GAP_LIMIT = 1000

_by_loop = weakref.WeakKeyDictionary()  # event loop -> {layer id: LocalGroups}


def run_eagerly(coroutine):
    """Run coroutine until it finishes or first has to wait; None if it finished, else the task
    it goes on in. What asyncio.Task(..., eager_start=True) does on Python 3.12+: the fan-out
    pays for a task only for a member whose delivery actually waits."""
    try:
        waiting_for = coroutine.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(_go_on(coroutine, waiting_for))


async def _go_on(coroutine, waiting_for):
    """The rest of a coroutine that yielded `waiting_for` (a future, or None for a bare yield),
    driven as asyncio's Task would: resume it once that is done; a cancellation cancels what it
    waits for, and the coroutine itself sees it."""
    while True:
        if waiting_for is None:
            await asyncio.sleep(0)
        else:
            waiting_for._asyncio_future_blocking = False
            try:
                await asyncio.shield(waiting_for)
            except asyncio.CancelledError:
                if not waiting_for.done():  # we were cancelled, not what it waits for
                    waiting_for.cancel()
                    await asyncio.wait([waiting_for])
            except BaseException:  # noqa: BLE001, S110 - the coroutine reads the outcome itself below
                pass
        try:
            waiting_for = coroutine.send(None)
        except StopIteration as finished:
            return finished.value


def per_loop(registry, channel_layer, make):
    """The one `make(channel_layer)` of this event loop and layer. registry: a WeakKeyDictionary
    (event loop -> {id(layer): object}), so a loop's objects go with it (tests run many loops)."""
    by_layer = registry.setdefault(asyncio.get_running_loop(), {})
    found = by_layer.get(id(channel_layer))
    if found is None or found.layer is not channel_layer:
        found = by_layer[id(channel_layer)] = make(channel_layer)
    return found


def local_groups(channel_layer):
    """This event loop's LocalGroups for channel_layer."""
    return per_loop(_by_loop, channel_layer, LocalGroups)


class _Group:
    """One group on this process: its channel in the layer, its local members, its receive task."""

    def __init__(self, groups, name):
        self.groups = groups
        self.name = name
        self.channel = None
        self.members = {}  # member -> None: an ordered set (delivery order = join order)
        self.joined = asyncio.get_running_loop().create_task(self._join())
        self.receiving = None
        self.stopped = False
        self.gaps = _Gaps()
        self.sweep = None  # the timer that counts overdue numbers as missed

    async def _join(self):
        layer = self.groups.layer
        self.channel = await layer.new_channel()
        await layer.group_add(self.name, self.channel)
        self.receiving = asyncio.get_running_loop().create_task(self._receive())

    async def _receive(self):
        layer = self.groups.layer
        failing = False
        while True:
            try:
                event = await layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - the layer is down: keep trying, say so once
                if not failing:
                    logger.warning("group %s: receiving from the channel layer failed (%s); retrying",
                                   self.name, describe(error))
                    # Redis may come back empty (a restart without persistence forgets every
                    # group): this process joins all its groups again once Redis answers, or its
                    # sockets would stay connected and deaf.
                    self.groups.rejoin_when_back()
                failing = True
                await asyncio.sleep(RETRY_SECONDS)
                continue
            failing = False
            if event.get("type") == _STOP:
                return
            stamp = event.get(SEQUENCE_KEY)
            if stamp is not None and self.gaps.note(stamp, asyncio.get_running_loop().time()):
                self._sweep_later()
            await self.fan_out(event)

    def _sweep_later(self):
        if self.sweep is None:
            self.sweep = asyncio.get_running_loop().call_later(GAP_GRACE_SECONDS, self._sweep)

    def _sweep(self):
        self.sweep = None
        missed = self.gaps.overdue(asyncio.get_running_loop().time())
        if self.gaps.waiting:
            self._sweep_later()
        if missed and not self.stopped:
            self.groups.missed(self, missed)

    async def fan_out(self, event):
        for count, member in enumerate(list(self.members), 1):
            if member in self.members:  # left while earlier members were served
                try:
                    await member.group_event(event)
                except Exception:  # noqa: BLE001 - one member's failure must not starve the others
                    logger.exception("group %s: handler for %r failed", self.name, event.get("type"))
            if count % YIELD_EVERY == 0:
                await asyncio.sleep(0)

    async def stop(self):
        """Leave the layer's group and end the receive loop."""
        self.stopped = True
        if self.sweep is not None:
            self.sweep.cancel()
        layer = self.groups.layer
        try:
            await asyncio.shield(self.joined)
        except Exception:  # noqa: BLE001 - never joined: nothing to leave
            return
        try:
            await layer.group_discard(self.name, self.channel)
            if _forgets_channels_on_cancel(layer):
                self.receiving.cancel()
            else:
                # Ended by a message of its own rather than cancelled: a receive cancelled inside
                # channels_redis's shared reader can leave the process's one BZPOPMIN stuck.
                await layer.send(self.channel, {"type": _STOP})
        except Exception as error:  # noqa: BLE001 - the membership expires with the group
            logger.warning("group %s: could not leave the channel layer's group (%s); its channel stays a "
                           "member until the group expires", self.name, describe(error))
            self.receiving.cancel()


class _Gaps:
    """The numbers group events of each sender carry (realtime.layers), as one group on this
    process saw them: a number that has not arrived GAP_GRACE_SECONDS after a later one is an
    event this process missed (the layer dropped it: the process's channel was over capacity)."""

    def __init__(self):
        self.last = {}  # sender -> highest number seen
        self.waiting = {}  # (sender, number) -> when it counts as missed
        self.uncounted = 0  # missed numbers beyond GAP_LIMIT in one hole, counted at once

    def note(self, stamp, now):
        """Record one arrival; True when numbers are now awaited."""
        try:
            sender, number = stamp
        except (TypeError, ValueError):
            return False
        last = self.last.get(sender)
        if last is None or number == 1:
            self.last[sender] = number  # a first event from this sender, or its count began again
            return False
        if number > last:
            self.last[sender] = number
            hole = range(last + 1, number)
            for missing in hole[:GAP_LIMIT]:
                self.waiting[(sender, missing)] = now + GAP_GRACE_SECONDS
            self.uncounted += max(0, len(hole) - GAP_LIMIT)
        else:
            self.waiting.pop((sender, number), None)  # late, not lost
        return bool(self.waiting) or self.uncounted > 0

    def overdue(self, now):
        """How many awaited numbers are now missed (forgotten from here on)."""
        late = [key for key, deadline in self.waiting.items() if deadline <= now]
        for key in late:
            del self.waiting[key]
        missed, self.uncounted = len(late) + self.uncounted, 0
        return missed

    def forget(self):
        """After a resync nothing earlier is owed."""
        self.last.clear()
        self.waiting.clear()
        self.uncounted = 0


def can_ask_membership(layer):
    """The project's Redis layer reads memberships from Redis (realtime.layers.has_member);
    channels' in-memory layer keeps them in `groups` (a dict of dicts). Others cannot be asked."""
    return hasattr(layer, "has_member") or (
        type(layer).__module__ == "channels.layers" and isinstance(getattr(layer, "groups", None), dict))


async def has_member(layer, group, channel):
    if hasattr(layer, "has_member"):
        return await layer.has_member(group, channel)
    return channel in layer.groups.get(group, {})


def _forgets_channels_on_cancel(layer):
    # RedisPubSubChannelLayer unsubscribes from a channel only when a receive on it is cancelled
    # (its documented clean-up: channels has no delete_channel()).
    return type(layer).__module__.startswith("channels_redis.pubsub")


class LocalGroups:
    """The groups of one event loop and one channel layer."""

    def __init__(self, channel_layer):
        self.layer = channel_layer
        self.groups = {}
        self._stopping = set()  # tasks leaving the layer's groups (kept referenced until done)
        self._maintenance = None
        self._rejoin = None
        self._probing = None
        self._probe = None  # this process's own group, outside self.groups (see _probe_while_joined)

    def _maintain(self):
        if self._maintenance is None or self._maintenance.done():
            self._maintenance = asyncio.get_running_loop().create_task(self._refresh_while_joined())
        if settings.REALTIME_PROBE_SECONDS > 0 and (self._probing is None or self._probing.done()):
            self._probing = asyncio.get_running_loop().create_task(self._probe_while_joined())

    async def _probe_while_joined(self):
        """Every REALTIME_PROBE_SECONDS, ask the layer whether it still holds a membership only
        this process has (its probe group). If it does not, the layer has forgotten this process's
        memberships while every connection stayed up (FLUSHALL, a Redis that came back empty, an
        eviction): join every group again at once and tell the members to resync, instead of
        leaving every socket connected and deaf until the next refresh (minutes). The layer is
        asked, not timed: a process busy with a storm or a backlog is never taken for a
        forgotten one. Layers that cannot be asked (the pub/sub layer keeps subscriptions on its
        connection, and subscribes again itself) are not probed."""
        if not can_ask_membership(self.layer):
            return
        self._probe = _Group(self, f"realtime.probe.{secrets.token_hex(8)}")
        try:
            while self.groups:
                await asyncio.sleep(settings.REALTIME_PROBE_SECONDS)
                if not self.groups or not await self._membership_lost():
                    continue
                logger.warning("the channel layer lost this process's group memberships (FLUSHALL, a Redis that came "
                               "back empty, an eviction): joining its %d group(s) again and telling their sockets "
                               "to resync", len(self.groups))
                await self._rejoin_and_resync("the server lost its group memberships")
        finally:
            probe, self._probe = self._probe, None
            task = asyncio.get_running_loop().create_task(probe.stop())
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    async def _membership_lost(self):
        """True only when the layer answers that the probe membership is gone."""
        try:
            await asyncio.shield(self._probe.joined)
        except Exception:  # noqa: BLE001 - the layer was down when it first joined: try again
            self._probe = _Group(self, self._probe.name)
            return False
        try:
            async with asyncio.timeout(PROBE_WAIT_SECONDS):
                return not await has_member(self.layer, self._probe.name, self._probe.channel)
        except Exception:  # noqa: BLE001 - unreachable or slow layer: the receive loops say so and rejoin
            return False

    async def _rejoin_and_resync(self, reason):
        if await self.rejoin():
            await self.resync(reason)
        else:  # the layer failed meanwhile: join again (and resync) once it answers
            self.rejoin_when_back()

    def missed(self, group, count):
        """group's events were dropped before reaching this process: say so and tell its members."""
        logger.warning("group %s: %d event(s) did not reach this process (the channel layer dropped them: its "
                       "channel held as many events as the sender's CHANNEL_LAYER_CAPACITY allows, this process "
                       "fell behind a burst); %d local member(s) told to resync", group.name, count,
                       len(group.members))
        stats.missed(count)
        task = asyncio.get_running_loop().create_task(
            self.resync(f"{count} event(s) could not be delivered to this server in time", [group]))
        self._stopping.add(task)  # kept referenced until done, like the leaves
        task.add_done_callback(self._stopping.discard)

    async def resync(self, reason, groups=None):
        """Tell every local member (of groups, or of all), once each, that it may have missed
        group events."""
        event = {"type": RESYNC, "reason": reason}
        seen = set()
        chosen = list(self.groups.values()) if groups is None else groups
        for group in chosen:
            group.gaps.forget()
        for group in chosen:
            for member in list(group.members):
                if member not in seen:
                    seen.add(member)
                    try:
                        await member.group_event(event)
                    except Exception:  # noqa: BLE001 - the other members must still hear it
                        logger.exception("telling a member of group %s to resync failed", group.name)

    async def _refresh_while_joined(self):
        """Join every group again every REALTIME_GROUP_REFRESH_SECONDS: a process's membership
        outlives any one socket, and the layer drops members older than its group expiry."""
        while self.groups:
            await asyncio.sleep(settings.REALTIME_GROUP_REFRESH_SECONDS)
            await self.rejoin()

    def rejoin_when_back(self):
        if self._rejoin is None or self._rejoin.done():
            self._rejoin = asyncio.get_running_loop().create_task(self._rejoin_until_done())

    async def _rejoin_until_done(self):
        while self.groups:
            await asyncio.sleep(RETRY_SECONDS)
            if await self.rejoin():
                logger.info("joined this process's %d group(s) again; their sockets are told to resync",
                            len(self.groups))
                # Events sent while the layer was unreachable, or before the rejoin, reached
                # nobody here: the clients reload what they show.
                await self.resync("the server's channel layer was unreachable")
                return

    async def rejoin(self):
        """group_add every joined group's channel again (idempotent: it also refreshes the
        membership's age). False when the layer failed."""
        for group in [group for group in [self._probe, *self.groups.values()] if group is not None]:
            if group.stopped or not group.joined.done() or group.joined.exception() is not None:
                continue
            try:
                await self.layer.group_add(group.name, group.channel)
            except Exception as error:  # noqa: BLE001 - tried again later
                logger.warning("could not join group %s again (%s)", group.name, describe(error))
                return False
        return True

    async def join(self, name, member):
        """Add member (an object with `async group_event(event)`) to group `name`; returns once
        this process receives the group's events. Raises if the layer cannot be joined."""
        group = self.groups.get(name)
        if group is None:
            group = self.groups[name] = _Group(self, name)
            self._maintain()
        group.members[member] = None
        try:
            # shield: a member that gives up (its socket closed) must not cancel the others' join.
            await asyncio.shield(group.joined)
        except BaseException:
            self.leave(name, member)
            if self.groups.get(name) is group and group.joined.done() and group.joined.exception():
                del self.groups[name]  # the next member tries again
            raise

    def leave(self, name, member):
        """Remove member from group `name` at once; the process leaves the layer's group in the
        background when this was its last member here."""
        group = self.groups.get(name)
        if group is None:
            return
        group.members.pop(member, None)
        if group.members:
            return
        del self.groups[name]
        if group.joined.done() and group.joined.exception() is not None:
            return
        task = asyncio.get_running_loop().create_task(group.stop())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    def members(self, name):
        group = self.groups.get(name)
        return list(group.members) if group else []

    def summary(self):
        """{group: local members} for the ops feed and tests."""
        return {name: len(group.members) for name, group in self.groups.items()}

    async def drain(self):
        """Wait for the background leaves (tests, shutdown)."""
        while self._stopping:
            await asyncio.gather(*list(self._stopping), return_exceptions=True)

    async def leave_everything(self):
        """Leave every layer group this process is in (a shutdown): a process that exits while
        its leaves are pending stays a dead member of its groups until they expire."""
        for name, group in list(self.groups.items()):
            group.members.clear()
            self.leave(name, None)  # no member left: the process leaves the layer's group
        if self._probing is not None and not self._probing.done():
            self._probing.cancel()  # it leaves its probe group on the way out
            await asyncio.wait([self._probing])
        await self.drain()


async def leave_every_group(timeout=5.0):
    """At shutdown, every LocalGroups of this event loop leaves its layer groups (bounded)."""
    every = [groups for by_layer in [_by_loop.get(asyncio.get_running_loop(), {})] for groups in by_layer.values()]
    try:
        async with asyncio.timeout(timeout):
            await asyncio.gather(*(groups.leave_everything() for groups in every))
    except TimeoutError:
        logger.warning("shutdown: leaving the channel layer's groups took longer than %s s", timeout)


async def lifespan(scope, receive, send):
    """The ASGI lifespan protocol, for servers that speak it (uvicorn; daphne does not, and
    realtime.server leaves the groups itself): on shutdown the process leaves its groups."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await leave_every_group()
            await send({"type": "lifespan.shutdown.complete"})
            return
