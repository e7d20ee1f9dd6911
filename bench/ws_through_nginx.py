"""What nginx costs a WebSocket: handshakes and echo round trips through nginx, against the
same daphne reached directly on its unix socket (the baseline, measured in the same run).

    make bench                       # or: .venv/bin/python -m bench.ws_through_nginx [--rounds N]

Starts the local production stack with the launcher `make stack` uses (ops.testing.processes.LocalStack)
in a throwaway directory, and prints ratios (through nginx / direct): 1.0 means nginx adds
nothing; only ratios are reported, never absolute times as a verdict.
"""

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect, unix_connect

from ops.testing.processes import LocalStack

ORIGIN = "http://127.0.0.1"


async def _established(ws):
    while json.loads(await ws.recv())["type"] != "connection_established":
        pass


def through_nginx(stack):
    return lambda: connect(stack.ws_base + "/ws/test/", origin=ORIGIN, proxy=None)


def direct(stack):
    # Same Host and Origin as through nginx, so only the proxy differs.
    path = str(stack.root / "run" / "daphne-1.sock")
    return lambda: unix_connect(path, "ws://127.0.0.1/ws/test/", origin=ORIGIN)


async def handshakes(open_socket, rounds):
    """Median seconds for connect + connection_established + close."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        async with open_socket() as ws:
            await _established(ws)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# The app limits each connection to bursts of 40 messages (WS_RATE_LIMIT_BURST): stay below.
PINGS_PER_SOCKET = 30


async def round_trips(open_socket, rounds):
    """Median seconds for one application ping -> pong on an open socket."""
    times = []
    while len(times) < rounds:
        async with open_socket() as ws:
            await _established(ws)
            for _ in range(min(PINGS_PER_SOCKET, rounds - len(times))):
                start = time.perf_counter()
                await ws.send('{"type": "ping"}')
                while json.loads(await ws.recv())["type"] != "pong":
                    pass
                times.append(time.perf_counter() - start)
    return statistics.median(times)


async def measure(stack, rounds):
    """{measurement: ratio through nginx / direct}; the two sides alternate to share any drift."""
    results = {}
    for name, probe in (("handshake", handshakes), ("echo round trip", round_trips)):
        nginx, baseline = [], []
        for _ in range(3):
            nginx.append(await probe(through_nginx(stack), rounds))
            baseline.append(await probe(direct(stack), rounds))
        results[name] = statistics.median(nginx) / statistics.median(baseline)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()

    root = tempfile.mkdtemp(prefix="channels-stack-bench-")
    # The handshake limit stays on (its cost is part of nginx's) but high enough for a benchmark.
    limits = {"nginx_ws_handshake_rate": "100000r/s", "nginx_ws_handshake_burst": 100000}
    stack = LocalStack(root, Path(root + "-output.log"), settings=limits)
    try:
        ratios = asyncio.run(measure(stack, args.rounds))
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"through nginx / direct to daphne (median of 3 x {args.rounds}; 1.00 = no cost):")
    for name, ratio in ratios.items():
        print(f"  {name:<16} {ratio:5.2f}x")


if __name__ == "__main__":
    main()
