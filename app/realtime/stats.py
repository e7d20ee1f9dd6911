"""Open connections of this process, by route; read by the ops feed and the health check."""

import os
from collections import Counter

from django.conf import settings

_open = Counter()


def opened(route):
    _open[route] += 1


def closed(route):
    _open[route] -= 1
    if _open[route] <= 0:
        del _open[route]


def snapshot():
    return {
        "instance": settings.SERVER_INSTANCE_ID,
        "pid": os.getpid(),
        "connections": dict(_open),
        "total": sum(_open.values()),
    }
