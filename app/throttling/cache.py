"""The shared cache (CACHES["default"]) on Redis: what DRF's throttles and the admin's login
limit count in, so a limit holds across every process instead of per process.

Two changes to Django's RedisCache:

- one client (connection pool) per process. `caches[alias]` builds a cache object per thread
  and per async context, and under an ASGI server every request has a context of its own: each
  request opened a new pool and a new Redis connection;
- Redis failing or stalling (socket timeouts of REDIS_CACHE_TIMEOUT) lets requests through: a
  read returns its default, a write is dropped, a warning is logged (at most once a minute).
  A rate limit that answers 500 while Redis restarts would take the login down with it; nginx's
  per-address limits still stand in front meanwhile.
"""

import logging
import threading
import time

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.utils.functional import cached_property
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)
WARN_EVERY_SECONDS = 60

_clients = {}
_clients_lock = threading.Lock()
_last_warning = 0.0


def _warn(operation, error):
    global _last_warning
    now = time.monotonic()
    if now - _last_warning >= WARN_EVERY_SECONDS:
        _last_warning = now
        logger.warning(
            "shared cache unavailable (%s: %s): throttles and login limits let requests through until "
            "Redis answers again", operation, type(error).__name__,
        )


def _fail_open(name, fallback):
    def method(self, *args, **kwargs):
        try:
            return getattr(super(RedisCache, self), name)(*args, **kwargs)
        except RedisError as error:
            _warn(name, error)
            return fallback(*args, **kwargs) if callable(fallback) else fallback

    method.__name__ = name
    return method


class RedisCache(DjangoRedisCache):
    @cached_property
    def _cache(self):
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
        return client

    get = _fail_open("get", lambda key, default=None, version=None: default)
    get_many = _fail_open("get_many", {})
    add = _fail_open("add", False)
    set = _fail_open("set", None)
    set_many = _fail_open("set_many", lambda data, *args, **kwargs: list(data))
    touch = _fail_open("touch", False)
    has_key = _fail_open("has_key", False)
    incr = _fail_open("incr", lambda key, delta=1, version=None: delta)
    delete = _fail_open("delete", False)
    delete_many = _fail_open("delete_many", None)
