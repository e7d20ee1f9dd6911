"""Which cache and channel-layer backends keep their state inside one process.

Such a backend is fine for `make run` (one process) and wrong as soon as several processes share
the work: a token cached by the HTTP server is unknown to daphne (WebSocket close 4001), a
group_send from one process never reaches sockets served by another. The system checks
(realtime/checks.py) and the health endpoint (health/checks.py) both ask here.
"""

PER_PROCESS_CACHES = frozenset(
    {
        "django.core.cache.backends.locmem.LocMemCache",
        # Stores nothing at all, so no process sees what another wrote either.
        "django.core.cache.backends.dummy.DummyCache",
    }
)
PER_PROCESS_LAYERS = frozenset({"channels.layers.InMemoryChannelLayer"})


def is_per_process_cache(backend_path):
    """True for a CACHES BACKEND (dotted path) whose entries no other process can see."""
    return backend_path in PER_PROCESS_CACHES


def is_per_process_layer(backend_path):
    """True for a CHANNEL_LAYERS BACKEND (dotted path) whose messages never leave the process."""
    return backend_path in PER_PROCESS_LAYERS


def backend_name(backend_path):
    """The class name at the end of a dotted path, for messages: 'LocMemCache'."""
    return backend_path.rsplit(".", 1)[-1]
