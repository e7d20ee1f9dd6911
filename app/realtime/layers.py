"""channels_redis's layers with a connection pool that waits for a free connection.

redis-py 8's pool raises MaxConnectionsError the moment every connection is in use. In a
connect or disconnect storm (a deploy, a network blip: thousands of sockets at once) that turned
group_add / group_discard into tracebacks, HTTP 500 handshakes and dead channel names left in
the groups for a day. A BlockingConnectionPool queues the caller instead, for up to
REDIS_POOL_TIMEOUT seconds: a burst is served a little later, not refused.
"""

from channels_redis import core
from redis import asyncio as aioredis


def blocking_pool(host):
    """A pool for one entry of CONFIG["hosts"] ({"address": url, "max_connections": n,
    "timeout": seconds to wait for a connection, ...})."""
    host = dict(host)
    return aioredis.BlockingConnectionPool.from_url(host.pop("address"), **host)


class RedisChannelLayer(core.RedisChannelLayer):
    def create_pool(self, index):
        return blocking_pool(self.hosts[index])
