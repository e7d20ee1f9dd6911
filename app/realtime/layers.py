"""channels_redis's core layer, made to wait for a free Redis connection instead of failing.

redis-py 8's pool raises MaxConnectionsError the moment every connection is in use. In a
connect or disconnect storm (a deploy, a network blip: thousands of sockets at once) that turned
group_add / group_discard into tracebacks, HTTP 500 handshakes and dead channel names left in
the groups for a day. Here every send and group operation first takes one of
(max_connections - RECEIVE_RESERVE) slots per event loop, waiting up to `pool_timeout` seconds,
so the pool itself is never exhausted. (redis-py's BlockingConnectionPool was tried: under a
storm, a consumer cancelled while its receive waited in the pool's condition hung for the
whole timeout and daphne killed it.)

With METRICS_ENABLED each of those operations is timed and its failures counted
(channel_layer_operation_seconds, channel_layer_errors_total); otherwise nothing is added.
"""

import asyncio
import collections
import contextlib
import functools
import secrets
import threading
import weakref

from channels_redis import core

# Connections kept out of the slots for receiving: the process's one blocking BZPOPMIN, and
# the clean-ups of its backup queue that run beside it.
RECEIVE_RESERVE = 4


# channels_redis internals read here (has_member), each checked against a real Redis by
# tests/live/test_redis_layer.py::test_the_layer_internals_has_member_reads_are_still_there, so an
# upgrade that renames or moves them fails there, loudly:
INTERNALS = ("RedisChannelLayer._group_key", "RedisChannelLayer.connection", "RedisChannelLayer.consistent_hash",
             "a group is a sorted set of channel names")

# What each group event carries so a receiving process can tell it missed one: [sender, number],
# the number counting this layer's group_sends to that group (realtime.groups reads it).
SEQUENCE_KEY = "_realtime_seq"
# Groups a sender keeps a count for; the least recently sent-to is forgotten (its count starts
# again at 1, which receivers take as a new start, not a gap).
SEQUENCED_GROUPS = 10_000


class RedisPoolTimeout(ConnectionError):
    pass


class RedisChannelLayer(core.RedisChannelLayer):
    def __init__(self, *args, pool_timeout=10.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.pool_timeout = pool_timeout
        smallest_pool = min(host.get("max_connections") or 100 for host in self.hosts)  # redis-py 8's default
        self.slot_count = max(1, smallest_pool - RECEIVE_RESERVE)
        self._slots = weakref.WeakKeyDictionary()  # event loop -> its semaphore
        self._observe = _layer_observer()
        # channels_redis drops a group event for a member whose channel is over `capacity`, with
        # an INFO line as the only trace. Numbered events let the receiving process notice the
        # hole and tell its sockets to resync.
        self._sender = secrets.token_hex(6)
        self._sequences = collections.OrderedDict()
        self._sequences_lock = threading.Lock()  # HTTP threads send through the same layer

    @contextlib.asynccontextmanager
    async def _slot(self):
        """One of this event loop's slot_count slots, waited for up to pool_timeout seconds."""
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = asyncio.Semaphore(self.slot_count)
        try:
            async with asyncio.timeout(self.pool_timeout):
                await slots.acquire()
        except TimeoutError:
            raise RedisPoolTimeout(
                f"no Redis connection free for {self.pool_timeout} s ({self.slot_count} in use): "
                "raise REDIS_MAX_CONNECTIONS or REDIS_POOL_TIMEOUT"
            ) from None
        try:
            yield
        finally:
            slots.release()

    async def _run(self, operation, call):
        """`call` in one of the slots; timed (METRICS_ENABLED) from the wait for the slot to the
        answer, which is what the caller waits."""
        if self._observe is None:
            async with self._slot():
                return await call()
        with self._observe(operation):
            async with self._slot():
                return await call()

    async def send(self, channel, message):
        return await self._run("send", functools.partial(super().send, channel, message))

    async def group_add(self, group, channel):
        return await self._run("group_add", functools.partial(super().group_add, group, channel))

    async def group_discard(self, group, channel):
        return await self._run("group_discard", functools.partial(super().group_discard, group, channel))

    async def has_member(self, group, channel):
        """Whether the layer still holds channel in group: a FLUSHALL, a Redis that came back
        empty or an eviction forgets it while every connection stays up. Reads channels_redis's
        storage (INTERNALS below)."""
        async with self._slot():
            connection = self.connection(self.consistent_hash(group))
            return await connection.zscore(self._group_key(group), channel) is not None

    async def group_send(self, group, message):
        stamped = {**message, SEQUENCE_KEY: [self._sender, self._next_number(group)]}
        return await self._run("group_send", functools.partial(super().group_send, group, stamped))

    def _next_number(self, group):
        with self._sequences_lock:
            number = self._sequences.pop(group, 0) + 1
            self._sequences[group] = number
            if len(self._sequences) > SEQUENCED_GROUPS:
                self._sequences.popitem(last=False)
            return number


def _layer_observer():
    """observability.metrics.layer_operation when METRICS_ENABLED, else None (nothing timed)."""
    from django.conf import settings

    if not getattr(settings, "METRICS_ENABLED", False):
        return None
    from observability.metrics import layer_operation

    return layer_operation
