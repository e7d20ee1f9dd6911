"""At most WS_MAX_SOCKETS_PER_USER open sockets per user, across every server process.

nginx caps sockets per address; one account (a leaked token, a client that reconnects in a loop
without closing its old sockets) could still hold thousands from many addresses. With Redis,
each user's open sockets are a sorted set (`realtime:sockets:<user id>`) of socket ids scored
with the time they stop counting: a connect adds its socket only while fewer than the cap are
live (one Lua script, so two processes cannot both take the last place), a disconnect removes
it, and each process renews its sockets every renewal period, so the sockets of a process that
died (SIGKILL, a lost host) stop counting within three periods. Without Redis (one process) the
count is this process's. When Redis fails, sockets are let in (said once a minute): refusing
every connect while Redis restarts would be an outage of its own.
"""

import asyncio
import logging
import time
import weakref

from django.conf import settings

from .errors import describe
from .groups import per_loop

logger = logging.getLogger("realtime")

KEY = "realtime:sockets:{}"
WARN_EVERY_SECONDS = 60.0
# Redis calls in flight per process: a connect storm queues here rather than exhausting the
# client's pool (redis-py 8 raises at its limit instead of waiting).
CONCURRENT_CALLS = 32
# Drop what no longer counts, then take a place if one is free.
ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""

_by_loop = weakref.WeakKeyDictionary()  # event loop -> {layer id: UserSockets}


def user_sockets(channel_layer):
    """This event loop's UserSockets (keyed by the layer like realtime.groups' objects)."""
    return per_loop(_by_loop, channel_layer, UserSockets)


def renew_seconds():
    return settings.WS_RECHECK_SECONDS if settings.WS_RECHECK_SECONDS > 0 else 10.0


def counted_for():
    """Seconds a socket counts after its last renewal: three renewal periods."""
    return 3 * renew_seconds()


class UserSockets:
    def __init__(self, channel_layer):
        self.layer = channel_layer
        self.by_user = {}  # user id -> {socket id}
        self._redis = None
        self._script = None
        self._renewing = None
        self._pending = set()  # removals in flight (kept referenced until done)
        self._warned = 0.0
        self._calls = asyncio.Semaphore(CONCURRENT_CALLS)

    def _client(self):
        if not settings.REDIS_URL:
            return None
        if self._redis is None:
            import redis.asyncio as redis

            self._redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2,
                                               max_connections=CONCURRENT_CALLS + 1)  # + the renewal
            self._script = self._redis.register_script(ADMIT)
        return self._redis

    def _warn(self, what, error):
        now = time.monotonic()
        if now - self._warned >= WARN_EVERY_SECONDS:
            self._warned = now
            logger.warning("sockets per user not counted (%s: %s): sockets are let in until Redis answers again",
                           what, describe(error))

    async def admit(self, user_id, socket_id):
        """True if the user may open one more socket (it then counts until release())."""
        cap = settings.WS_MAX_SOCKETS_PER_USER
        if cap <= 0:
            return True
        mine = self.by_user.get(user_id, set())
        client = self._client()
        if client is None:
            if len(mine) >= cap:
                return False
        else:
            now = time.time()
            try:
                async with asyncio.timeout(2), self._calls:
                    admitted = await self._script(keys=[KEY.format(user_id)],
                                                  args=[now, cap, now + counted_for(), socket_id,
                                                        int(counted_for()) + 1])
            except Exception as error:  # noqa: BLE001 - Redis away: let the socket in, say so
                self._warn("admit", error)
            else:
                if not admitted:
                    return False
        self.by_user.setdefault(user_id, set()).add(socket_id)
        if self._renewing is None or self._renewing.done():
            self._renewing = asyncio.get_running_loop().create_task(self._renew_while_open())
        return True

    def release(self, user_id, socket_id):
        mine = self.by_user.get(user_id)
        if not mine or socket_id not in mine:
            return
        mine.discard(socket_id)
        if not mine:
            del self.by_user[user_id]
        client = self._client()
        if client is not None:
            task = asyncio.get_running_loop().create_task(self._remove(client, user_id, socket_id))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _remove(self, client, user_id, socket_id):
        try:
            async with asyncio.timeout(2), self._calls:
                await client.zrem(KEY.format(user_id), socket_id)
        except Exception as error:  # noqa: BLE001 - it stops counting when its score passes
            self._warn("release", error)

    async def _renew_while_open(self):
        while self.by_user:
            await asyncio.sleep(renew_seconds())
            client = self._client()
            if client is None:
                continue
            until = time.time() + counted_for()
            try:
                async with asyncio.timeout(5):
                    async with client.pipeline(transaction=False) as pipe:
                        for user_id, sockets in list(self.by_user.items()):
                            pipe.zadd(KEY.format(user_id), dict.fromkeys(sockets, until), xx=True)
                            pipe.expire(KEY.format(user_id), int(counted_for()) + 1)
                        await pipe.execute()
            except Exception as error:  # noqa: BLE001 - tried again next period
                self._warn("renew", error)
