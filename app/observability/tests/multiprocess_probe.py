"""Run by test_metrics.py with PROMETHEUS_MULTIPROC_DIR set: `record` adds values in this process
and exits (a recycled worker); `scrape` adds its own and prints the merged exposition."""

import sys

from observability import metrics


def record():
    metrics.connects.labels("/ws/test/", "daphne-1").inc(3)
    metrics.open_sockets.labels("/ws/test/", "daphne-1").inc(2)
    metrics.layer_seconds.labels("send").observe(0.01)


if __name__ == "__main__":
    record()
    if sys.argv[1] == "scrape":
        body, _ = metrics.exposition()
        print(body.decode())
