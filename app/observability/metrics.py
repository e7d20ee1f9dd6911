"""Prometheus metrics (METRICS_ENABLED; this module is imported only then).

Several processes serve one host: gunicorn's workers (recycled every http_max_requests) and the
daphne instances. With PROMETHEUS_MULTIPROC_DIR (a directory they all share, e.g. under the
socket directory) prometheus_client's multiprocess mode keeps each process's values in files
there, and a scrape of any process adds them up: one scrape per host sees every process. Open
sockets are a "livesum" gauge: a process that died stops counting. What the library leaves to
the deployment is done at each scrape, under the directory's lock: the gauges of dead processes
are dropped, and their counters and histograms are folded into one archive file per type, so a
recycled worker's counts stay in the totals without leaving its files behind (every recycled
worker would otherwise add files that each scrape reads).

The token store's size (token_store_entries) is no process's value: the process that answers
the scrape counts it then, with one query (TokenStoreCollector).

Without the directory each process keeps its own values and a scrape answers for the process it
reaches: right for one process (`make run`, Render's one daphne), wrong behind gunicorn (the
system check observability.W001 says so).
"""

import contextlib
import fcntl
import glob
import logging
import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.mmap_dict import MmapedDict

logger = logging.getLogger(__name__)

# `server` is SERVER_INSTANCE_ID (host:daphne-N in the units): Prometheus's own `instance` label
# names the scrape target, which is the whole host here.
open_sockets = Gauge(
    "websocket_open_connections", "Open WebSocket connections.", ["route", "server"], multiprocess_mode="livesum"
)
connects = Counter("websocket_connects", "WebSocket handshakes the app accepted.", ["route", "server"])
refusals = Counter(
    "websocket_refusals",
    "WebSockets the server closed or refused, by close code (403: refused before the handshake, e.g. "
    "a wrong Origin; 4001 unauthenticated, 4003 forbidden, 4004 not found, 4008 policy, 4013 unavailable).",
    ["route", "code"],
)
disconnects = Counter("websocket_disconnects", "WebSockets the client (or the network) closed, by code.",
                      ["route", "code"])
messages_received = Counter("websocket_messages_received", "WebSocket messages from clients.", ["route"])
messages_sent = Counter("websocket_messages_sent", "WebSocket messages to clients.", ["route"])
LAYER_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
layer_seconds = Histogram(
    "channel_layer_operation_seconds",
    "Channel layer operations (send, group_send, group_add, group_discard), waiting for a Redis slot included.",
    ["operation"],
    buckets=LAYER_BUCKETS,
)
layer_errors = Counter("channel_layer_errors", "Channel layer operations that failed, by exception.",
                       ["operation", "error"])
events_missed = Counter(
    "channel_layer_events_missed",
    "Group events the channel layer dropped before they reached this process (its channel was over "
    "CHANNEL_LAYER_CAPACITY); the members were told to resync.",
)
http_requests = Counter("http_requests", "HTTP requests answered.", ["method", "route", "status"])
http_seconds = Histogram("http_request_duration_seconds", "Time to answer an HTTP request.", ["method", "route"])


@contextlib.contextmanager
def layer_operation(operation):
    """Times one channel-layer call and counts its failure (realtime.layers)."""
    started = time.perf_counter()
    try:
        yield
    except Exception as error:
        layer_errors.labels(operation, type(error).__name__).inc()
        raise
    finally:
        layer_seconds.labels(operation).observe(time.perf_counter() - started)


class TokenStoreCollector:
    """The token store's rows, counted (one query) when /metrics is scraped, by the process that
    answers: a figure of the shared table, not of a process, so it is never kept in the
    multiprocess files (which would add it up once per process). A process without Django set
    up (a bare exporter) has nothing to count."""

    def collect(self):
        from django.apps import apps

        if not apps.ready or not apps.is_installed("tokens"):
            return
        from django.conf import settings
        from django.db import DatabaseError

        from tokens.cache import TokenDatabaseCache
        from tokens.store import token_cache

        cache = token_cache()
        if not isinstance(cache, TokenDatabaseCache):
            return  # another store (Redis) expires entries itself
        try:
            counts = cache.entry_counts()
        except DatabaseError as error:
            # The scrape still answers with every other series; the health report says why.
            logger.warning("token_store_entries not counted: %s: %s", type(error).__name__, error)
            return
        entries = GaugeMetricFamily(
            "token_store_entries",
            "Rows of the token store's table: live (valid tokens and tickets, never dropped to make room) "
            "and expired (waiting for manage.py clear_expired_tokens).",
            labels=["state"],
        )
        entries.add_metric(["live"], counts.live)
        entries.add_metric(["expired"], counts.expired)
        yield entries
        yield GaugeMetricFamily("token_store_warn_entries",
                                "TOKEN_CACHE_WARN_ENTRIES: live entries past which the health report warns.",
                                value=settings.TOKEN_CACHE_WARN_ENTRIES)
        yield GaugeMetricFamily("token_store_max_entries",
                                "TOKEN_CACHE_MAX_ENTRIES: rows past which each write also deletes expired ones.",
                                value=cache.max_entries)


# Collectors that compute their figures at scrape time (not in REGISTRY: reading a sample from it,
# as tests do, must not query the database).
scrape_time = CollectorRegistry(auto_describe=False)
scrape_time.register(TokenStoreCollector())


def multiprocess_dir():
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's: alive
    return True


def _dead_pid(path):
    """The pid of a value file whose process is gone, else None (live, ours, or the archive)."""
    pid = os.path.basename(path)[: -len(".db")].rsplit("_", 1)[-1]
    if not pid.isdigit() or int(pid) == os.getpid():
        return None
    return None if _alive(int(pid)) else int(pid)


def compact(directory):
    """Drop the live gauges of dead processes; fold their counters and histograms into
    <type>_archive.db. The caller holds the directory's lock."""
    for path in sorted(glob.glob(os.path.join(directory, "*.db"))):
        pid = _dead_pid(path)
        if pid is None:
            continue
        kind = os.path.basename(path).split("_", 1)[0]
        if kind in ("counter", "histogram"):
            archive = MmapedDict(os.path.join(directory, f"{kind}_archive.db"))
            try:
                for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(path):
                    current, _ = archive.read_value(key)
                    archive.write_value(key, current + value, timestamp)
            finally:
                archive.close()
            os.remove(path)
        elif kind == "gauge":
            multiprocess.mark_process_dead(pid, directory)  # the live* modes: the only ones used here


@contextlib.contextmanager
def _locked(directory):
    with open(os.path.join(directory, ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def exposition():
    """(body, content type) of a scrape: every process of the host with a multiprocess
    directory, else this process."""
    # Before the directory's lock: a slow database holds up this scrape only.
    counted_now = generate_latest(scrape_time)
    directory = multiprocess_dir()
    if not directory:
        return generate_latest(REGISTRY) + counted_now, CONTENT_TYPE_LATEST
    with _locked(directory):
        compact(directory)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, directory)
        return generate_latest(registry) + counted_now, CONTENT_TYPE_LATEST
