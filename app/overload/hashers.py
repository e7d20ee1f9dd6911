"""Django's password hashers, each hashing without a database connection and only a few at once.

A login looks the user up (taking a pooled connection), then hashes the password: about 0.4 s of
CPU here (PBKDF2, 1,000,000 rounds), the connection held all along. 50 logins at once held every
connection of the pool (4 per process) for seconds: the logins behind them, and every other
request of the process, waited for one and failed (psycopg_pool.PoolTimeout after 10 s, a 500).
Now, outside a transaction, the thread's pooled connection goes back to the pool before hashing
(the next query takes one again), and at most PASSWORD_CHECKS_AT_ONCE hashes run per process (more
only slow each other on the same cores); one that waits past PASSWORD_CHECK_WAIT seconds is a 503
with Retry-After (overload.middleware). The unknown-user path of a login hashes too (Django's
timing defence), so it waits in the same queue.

Same algorithm names as Django's: stored hashes still verify, nothing is rehashed. A caller that
hashes while it reads a PostgreSQL server-side cursor (QuerySet.iterator() outside a transaction)
must do so inside transaction.atomic(), which keeps the connection."""

import threading
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import hashers
from django.db import connections

from .middleware import ServiceUnavailable

_hashing = threading.local()  # verify() calls encode(): the thread takes one slot for both
_slots_lock = threading.Lock()
_slots = None  # (size, semaphore): made again if PASSWORD_CHECKS_AT_ONCE changes (tests)


def _semaphore():
    global _slots
    with _slots_lock:
        size = settings.PASSWORD_CHECKS_AT_ONCE
        if _slots is None or _slots[0] != size:
            _slots = (size, threading.BoundedSemaphore(size))
        return _slots[1]


def release_pooled_connections():
    """Hand this thread's pooled database connections back to their pool. Not inside a
    transaction (closing would abort it), and not a connection without a pool (closing it would
    only cost a reconnect)."""
    for connection in connections.all(initialized_only=True):
        pooled = connection.settings_dict.get("OPTIONS", {}).get("pool")
        if pooled and connection.connection is not None and not connection.in_atomic_block:
            connection.close()


@contextmanager
def hashing_slot():
    if getattr(_hashing, "active", False):
        yield
        return
    release_pooled_connections()
    slots = _semaphore()
    if not slots.acquire(timeout=settings.PASSWORD_CHECK_WAIT):
        raise ServiceUnavailable(
            f"Too many password checks at once on this server: try again in {settings.HTTP_RETRY_AFTER_SECONDS} s.",
            code="server_busy",
        )
    _hashing.active = True
    try:
        yield
    finally:
        _hashing.active = False
        slots.release()


class SlotHasherMixin:
    def encode(self, password, salt, *args, **kwargs):
        with hashing_slot():
            return super().encode(password, salt, *args, **kwargs)

    def verify(self, password, encoded):
        with hashing_slot():
            return super().verify(password, encoded)

    def harden_runtime(self, password, encoded):
        with hashing_slot():
            return super().harden_runtime(password, encoded)


# Django's default PASSWORD_HASHERS, in its order (the first hashes new passwords).
class PBKDF2PasswordHasher(SlotHasherMixin, hashers.PBKDF2PasswordHasher):
    pass


class PBKDF2SHA1PasswordHasher(SlotHasherMixin, hashers.PBKDF2SHA1PasswordHasher):
    pass


class Argon2PasswordHasher(SlotHasherMixin, hashers.Argon2PasswordHasher):
    pass


class BCryptSHA256PasswordHasher(SlotHasherMixin, hashers.BCryptSHA256PasswordHasher):
    pass


class ScryptPasswordHasher(SlotHasherMixin, hashers.ScryptPasswordHasher):
    pass
