"""Open connections of this process, by route; read by the ops feed and the health check.

The ops feed learns about every instance from a snapshot each process publishes every
OPS_STATS_INTERVAL_SECONDS while it has open sockets: one layer call per interval per process,
whatever the number of connects. (A group_send per connect and per disconnect emptied the Redis
pool in a storm of thousands, even with nobody watching.)
"""

import asyncio
import logging
import os
import time
import weakref
from collections import Counter

from django.conf import settings

from .errors import describe

logger = logging.getLogger("realtime")

OPS_GROUP = "ops"

_open = Counter()
_missed = {"events": 0}  # group events the layer dropped before they reached this process
_publishers = weakref.WeakKeyDictionary()  # event loop -> its publishing task


def opened(route):
    _open[route] += 1


def closed(route):
    _open[route] -= 1
    if _open[route] <= 0:
        del _open[route]


# Where the deep health report (served by any process, often not a daphne) learns of the last
# drop: in the shared cache, for MISSED_REPORT_SECONDS.
MISSED_KEY = "realtime:missed-events"
MISSED_REPORT_SECONDS = 15 * 60


def missed(count):
    """realtime.groups found `count` group events that never reached this process."""
    _missed["events"] += count
    if getattr(settings, "METRICS_ENABLED", False):
        from observability.metrics import events_missed

        events_missed.inc(count)
    record = {"instance": settings.SERVER_INSTANCE_ID, "count": count, "at": time.time()}
    # The cache is sync (and may be a database table): in a thread, never on the event loop.
    asyncio.get_running_loop().run_in_executor(None, _remember, record)


def _remember(record):
    from django.core.cache import caches

    try:
        caches["default"].set(MISSED_KEY, record, timeout=MISSED_REPORT_SECONDS)
    except Exception as error:  # noqa: BLE001 - the WARNING and the metric already say it
        logger.info("the last missed events could not be written to the shared cache (%s)", type(error).__name__)


def snapshot():
    return {
        "instance": settings.SERVER_INSTANCE_ID,
        "pid": os.getpid(),
        "connections": dict(_open),
        "total": sum(_open.values()),
        "missed_events": _missed["events"],
    }


def publish_while_open(channel_layer):
    """Make sure this event loop publishes snapshots to OPS_GROUP; the task ends after the
    first snapshot that shows no open socket (so watchers see the instance go to 0)."""
    loop = asyncio.get_running_loop()
    task = _publishers.get(loop)
    if task is None or task.done():
        _publishers[loop] = loop.create_task(_publish(channel_layer))


async def _publish(channel_layer):
    failing = False
    while True:
        await asyncio.sleep(settings.OPS_STATS_INTERVAL_SECONDS)
        current = snapshot()
        try:
            await channel_layer.group_send(OPS_GROUP, {"type": "ops.stats", **current})
        except Exception as error:  # noqa: BLE001 - the layer is down: say so once, keep serving sockets
            if not failing:
                logger.warning("ops stats not published (channel layer: %s); retrying every %s s",
                               describe(error), settings.OPS_STATS_INTERVAL_SECONDS)
            failing = True
        else:
            if failing:
                logger.info("ops stats published again")
            failing = False
        if current["total"] == 0:
            return
