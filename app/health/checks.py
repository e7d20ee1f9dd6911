"""The deep health check: each probe returns a Check with a status and, when not ok,
what to do about it in plain words."""

import asyncio
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import caches
from django.db import connections

from realtime.backends import backend_name, is_per_process_cache, is_per_process_layer
from tokens.cache import TokenDatabaseCache

OK, DEGRADED, FAIL = "ok", "degraded", "fail"
PROBE_KEY = "health:probe"  # read, never written
_RANK = {OK: 0, DEGRADED: 1, FAIL: 2}


@dataclass
class Check:
    name: str
    status: str
    detail: dict = field(default_factory=dict)
    recommendation: str = ""


def probe_timeout():
    """Seconds any one probe may take (HEALTH_CHECK_TIMEOUT, 2 s by default)."""
    return settings.HEALTH_CHECK_TIMEOUT


def failed(name, detail, error, recommendation):
    """A FAIL check that records which exception the probe hit."""
    return Check(name, FAIL, {**detail, "error": f"{type(error).__name__}: {error}"}, recommendation)


def _safe_url(url):
    """redis://host:port/db without credentials, for display."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_asgi():
    from django.utils.module_loading import import_string

    try:
        app = import_string(settings.ASGI_APPLICATION)
    except Exception as error:  # noqa: BLE001 - report any import failure
        return failed("asgi", {}, error, "ASGI_APPLICATION cannot be imported: fix the error shown in detail.")
    return Check("asgi", OK, {"application": settings.ASGI_APPLICATION, "type": type(app).__name__})


async def check_channel_layer():
    layer = get_channel_layer()
    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    detail = {"backend": backend}
    if layer is None:
        return Check("channel_layer", FAIL, detail, "No CHANNEL_LAYERS configured: set REDIS_URL.")
    try:
        # The whole round trip is bounded: a paused Redis held the send for the Redis socket
        # timeout (15 s) before this reported anything.
        async with asyncio.timeout(probe_timeout()):
            channel = await layer.new_channel()
            marker = uuid.uuid4().hex
            started = time.perf_counter()
            await layer.send(channel, {"type": "health.probe", "marker": marker})
            message = await layer.receive(channel)
        detail["round_trip_ms"] = round((time.perf_counter() - started) * 1000, 2)
    except TimeoutError:
        return Check("channel_layer", FAIL, detail, f"No message came back through the channel layer within "
                     f"{probe_timeout()} s: Redis is down, paused or overloaded.")
    except Exception as error:  # noqa: BLE001
        return failed(
            "channel_layer",
            detail,
            error,
            "A message could not travel through the channel layer: check that Redis is up and REDIS_URL is right.",
        )
    if message.get("marker") != marker:
        return Check("channel_layer", FAIL, detail, "The channel layer returned a different message than sent.")
    if is_per_process_layer(backend):
        return Check(
            "channel_layer",
            DEGRADED,
            detail,
            "In-memory layer: broadcasts stay inside this process. Fine for `make run`; "
            "set REDIS_URL for more than one process.",
        )
    return Check("channel_layer", OK, detail)


async def check_redis():
    if not settings.REDIS_URL:
        return Check("redis", DEGRADED, {"configured": False}, "REDIS_URL is not set: the in-memory layer is in use.")
    import redis.asyncio as redis

    limit = probe_timeout()
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=limit, socket_timeout=limit)
    detail = {"url": _safe_url(settings.REDIS_URL)}
    try:
        # The whole probe in one bound: connect, PING and INFO each had the socket timeout.
        async with asyncio.timeout(limit):
            started = time.perf_counter()
            await client.ping()
            detail["ping_ms"] = round((time.perf_counter() - started) * 1000, 2)
            info = await client.info("server")
        detail["version"] = info.get("redis_version") or info.get("valkey_version")
    except TimeoutError:  # ours; redis-py's own timeouts are redis.exceptions.TimeoutError, below
        return Check("redis", FAIL, {**detail, "error": f"no answer within {limit} s"},
                     f"Redis did not answer within {limit} s: it is down, paused or overloaded.")
    except Exception as error:  # noqa: BLE001
        return failed("redis", detail, error, "Redis does not answer PING: start redis-server or fix REDIS_URL.")
    finally:
        await client.aclose()
    return Check("redis", OK, detail)


def check_token_cache():
    cache = caches[settings.TOKEN_CACHE_ALIAS]
    backend = settings.CACHES[settings.TOKEN_CACHE_ALIAS]["BACKEND"]
    detail = {"backend": backend}
    # Before the probe: DummyCache answers nothing, and "per process" is the advice that helps.
    if is_per_process_cache(backend):
        return Check(
            "token_cache",
            FAIL,
            detail,
            f"{backend_name(backend)} is per process: tokens issued by one process are unknown to the others. "
            "Use DatabaseCache.",
        )
    try:
        # A read, never a write: the report may be asked for every few seconds by every monitor,
        # and a read already proves the table exists and the database answers.
        cache.get(PROBE_KEY)
    except Exception as error:  # noqa: BLE001
        return failed(
            "token_cache",
            detail,
            error,
            "The token cache cannot be read: run `python manage.py migrate`, which creates its table "
            "(createcachetable).",
        )
    return _token_store_size(cache, detail)


def _token_store_size(cache, detail):
    """The token_cache check's figures: the table's live and expired rows (one COUNT), and
    "degraded" with the fix once they pass TOKEN_CACHE_WARN_ENTRIES."""
    if not isinstance(cache, TokenDatabaseCache):
        return Check("token_cache", OK, detail)  # another store (Redis) expires entries itself
    try:
        counts = cache.entry_counts()
    except Exception as error:  # noqa: BLE001
        return failed("token_cache", detail, error, "The token cache's rows cannot be counted: check the database.")
    warn_at = settings.TOKEN_CACHE_WARN_ENTRIES
    detail.update(live_entries=counts.live, expired_entries=counts.expired, warn_entries=warn_at,
                  max_entries=cache.max_entries)
    cleanup = ("`python manage.py clear_expired_tokens` (on servers the <app>-token-cleanup.timer runs it; in "
               "the containers the token-cleanup service; on Render a cron job)")
    if counts.live > warn_at:
        return Check(
            "token_cache",
            DEGRADED,
            detail,
            f"{counts.live} valid tokens and tickets are stored, more than TOKEN_CACHE_WARN_ENTRIES ({warn_at}). "
            "None is ever dropped to make room (past TOKEN_CACHE_MAX_ENTRIES each write deletes expired rows "
            "only), but the table and every write grow with them. Shorten TOKEN_TTL_SECONDS, make sure "
            f"{cleanup} runs, or raise TOKEN_CACHE_WARN_ENTRIES and TOKEN_CACHE_MAX_ENTRIES if the database "
            "has room.",
        )
    if counts.total > warn_at:
        return Check(
            "token_cache",
            DEGRADED,
            detail,
            f"{counts.expired} expired tokens and tickets wait in the table ({counts.total} rows, more than "
            f"TOKEN_CACHE_WARN_ENTRIES {warn_at}): the scheduled clean-up is not running. Run {cleanup} and check "
            "its schedule.",
        )
    return Check("token_cache", OK, detail)


def check_shared_cache():
    """The default cache: where the API throttles and the admin's login limit count."""
    backend = settings.CACHES["default"]["BACKEND"]
    detail = {"backend": backend}
    if is_per_process_cache(backend):
        return Check(
            "shared_cache",
            DEGRADED if settings.DEBUG else FAIL,
            detail,
            f"{backend_name(backend)} is per process: each process allows the full login and ticket rates on "
            "its own. Set REDIS_URL or use DatabaseCache.",
        )
    if backend == "django.core.cache.backends.db.DatabaseCache":
        try:
            caches["default"].get(PROBE_KEY)
        except Exception as error:  # noqa: BLE001
            return failed("shared_cache", detail, error,
                          "The shared cache's table is missing: run `python manage.py migrate` (createcachetable).")
    # On Redis the cache lets requests through while Redis is down; the redis check reports that.
    return Check("shared_cache", OK, detail)


def check_delivery():
    """Group events a daphne missed lately (realtime.groups found a hole: the layer dropped them
    because that process fell behind a burst). Its sockets were told to resync; the operator is
    told here, for MISSED_REPORT_SECONDS after the last one."""
    from realtime.stats import MISSED_KEY, MISSED_REPORT_SECONDS

    try:
        last = caches["default"].get(MISSED_KEY)
    except Exception:  # noqa: BLE001 - the shared cache's own check reports it
        last = None
    if not last or time.time() - last["at"] > MISSED_REPORT_SECONDS:
        return Check("delivery", OK, {"missed_lately": False})
    ago = int(time.time() - last["at"])
    return Check(
        "delivery", DEGRADED, {"missed_lately": True, "instance": last["instance"], "count": last["count"],
                               "seconds_ago": ago},
        f"{last['instance']} missed {last['count']} group event(s) {ago} s ago (the channel layer dropped them: it "
        "fell behind a burst) and told its sockets to resync. If it recurs, add daphne instances or raise "
        "CHANNEL_LAYER_CAPACITY (sender side); channel_layer_events_missed_total counts every drop.",
    )


def check_database():
    detail = {"vendor": connections["default"].vendor}
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # noqa: BLE001
        return failed("database", detail, error, "The database does not answer: check DATABASE_URL and run migrate.")
    return Check("database", OK, detail)


def check_routes():
    from config.routing import websocket_urlpatterns

    routes = ["/" + str(pattern.pattern) for pattern in websocket_urlpatterns]
    status = OK if routes else FAIL
    return Check("websocket_routes", status, {"routes": routes}, "" if routes else "No WebSocket routes are defined.")


def check_server(is_asgi):
    detail = {
        "interface": "asgi" if is_asgi else "wsgi",
        "daphne_loaded": "daphne" in sys.modules,
        "instance": settings.SERVER_INSTANCE_ID,
    }
    if not is_asgi:
        return Check(
            "server",
            FAIL,
            detail,
            "This process serves WSGI, which cannot speak WebSocket: run daphne (or `manage.py runserver` "
            "with daphne in INSTALLED_APPS) and route /ws/ to it.",
        )
    return Check("server", OK, detail)


class BoundedProbes:
    """Sync probes that ask the database, run in turn in one thread of their own (one pooled
    connection, as before) and waited for until one deadline, HEALTH_CHECK_TIMEOUT from the start:
    a probe not back by then is FAIL, saying what did not answer. Before, a PostgreSQL stall held
    the report (and the monitor asking) as long as the stall lasted, and then said ok.

    A probe past the deadline goes on in its thread until the database answers; while it does, the
    next report starts no other (it says the first still waits), so a stall costs one waiting
    thread per process, not one per report. Inside a transaction (a test's) the probes run in the
    caller's thread, unbounded: they must see its rows, and would wait on its locks from another
    connection."""

    _last = None  # the last _Worker started, in this process
    _last_lock = threading.Lock()

    def __init__(self, probes):
        """probes: (name, callable returning a Check, what it asks in words: "The database")."""
        self.probes = probes
        self.limit = probe_timeout()
        self.deadline = time.monotonic() + self.limit
        self.inline = any(c.in_atomic_block for c in connections.all(initialized_only=True))
        self.worker = self.waiting_for = None
        if self.inline:
            return
        with self._last_lock:
            previous = BoundedProbes._last
            if previous is not None and previous.thread.is_alive():
                self.waiting_for = previous
                return
            self.worker = BoundedProbes._last = _Worker(probes)
        self.worker.thread.start()

    def results(self):
        if self.inline:
            return [probe() for _, probe, _ in self.probes]
        if self.waiting_for is not None:
            waited = time.monotonic() - self.waiting_for.started
            return [Check(name, FAIL, {"error": f"no answer for {waited:.1f} s"},
                          f"{subject} has not answered the probes started {waited:.0f} s ago: the database is "
                          "stalled, overloaded or unreachable.") for name, _, subject in self.probes]
        self.worker.thread.join(max(0.0, self.deadline - time.monotonic()))
        done = dict(self.worker.done)  # a copy: the worker may still add to it
        return [done.get(name) or Check(
            name, FAIL, {"error": f"no answer within {self.limit} s"},
            f"{subject} did not answer within {self.limit} s: the database is stalled, overloaded or "
            "unreachable, or its pool has no free connection (DB_POOL_MAX_SIZE).") for name, _, subject in self.probes]


class _Worker:
    def __init__(self, probes):
        self.probes, self.done = probes, {}
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._run, name="health-probes", daemon=True)

    def _run(self):
        try:
            for name, probe, _ in self.probes:
                try:
                    self.done[name] = probe()
                except Exception as error:  # noqa: BLE001 - the probes catch their own; this is a bug's
                    self.done[name] = failed(name, {}, error, "The probe itself failed: see the error.")
        finally:
            connections.close_all()  # no request ends in this thread: give its connection back


def overall(checks):
    return max((c.status for c in checks), key=_RANK.__getitem__, default=OK)


def as_dict(checks):
    return {
        "status": overall(checks),
        "checks": {c.name: {k: v for k, v in asdict(c).items() if k != "name"} for c in checks},
        "recommendations": [f"{c.name}: {c.recommendation}" for c in checks if c.recommendation],
    }
