"""Traffic that watches a site while something happens to it (a deploy, a restart):
HTTP requests in a loop counting every status, and WebSocket clients that reconnect at once
when their socket closes and record how long each was away."""

import asyncio
import collections
import json
import threading
import time

from websockets.exceptions import ConnectionClosed

from ops.testing.client import http, ws_connect


class HttpLoop:
    """GETs `paths` of `site` one after another in a thread until stopped; `statuses` counts
    every answer (and "error" for no answer at all)."""

    def __init__(self, site, paths=("/healthz", "/api/websocket/health/", "/")):
        self.site, self.paths = site, paths
        self.statuses = collections.Counter()
        self.failures = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(30)

    def _run(self):
        while not self._stop.is_set():
            for path in self.paths:
                try:
                    status, body = http("GET", self.site.base_url + path)
                except OSError as error:
                    status, body = "error", str(error)
                self.statuses[status] += 1
                if status == "error" or status >= 500:
                    self.failures.append((time.strftime("%H:%M:%S"), path, status, str(body)[:200]))

    @property
    def sent(self):
        return sum(self.statuses.values())

    @property
    def server_errors(self):
        return sum(count for status, count in self.statuses.items() if status == "error" or status >= 500)


class ReconnectingClients:
    """`count` sockets on `path`; each reconnects at once when closed. `gaps` holds, for every
    close, the seconds until that client had a new connection_established; `closes` the close
    codes seen."""

    def __init__(self, site, path="/ws/test/", count=100):
        self.site, self.path, self.count = site, path, count
        self.gaps, self.closes = [], collections.Counter()
        self.events = []  # (wall-clock time, client, what): for a failure's message
        self.connected = set()
        self._stopping = False
        self._tasks = []

    async def __aenter__(self):
        self._tasks = [asyncio.create_task(self._client(n)) for n in range(self.count)]
        deadline = time.monotonic() + 60
        while len(self.connected) < self.count:
            assert time.monotonic() < deadline, f"only {len(self.connected)} of {self.count} clients connected"
            await asyncio.sleep(0.1)
        return self

    async def __aexit__(self, *exc):
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _client(self, number):
        closed_at = None
        while not self._stopping:
            try:
                async with ws_connect(self.site, self.path, open_timeout=10) as ws:
                    while json.loads(await ws.recv())["type"] != "connection_established":
                        pass
                    if closed_at is not None:
                        self.gaps.append(time.monotonic() - closed_at)
                        self.events.append((time.time(), number, f"back after {self.gaps[-1]:.2f} s"))
                    closed_at = None
                    self.connected.add(number)
                    try:
                        async for _ in ws:
                            pass
                        code = ws.close_code
                    except ConnectionClosed as closed:
                        code = closed.rcvd.code if closed.rcvd else 1006
                    finally:
                        self.connected.discard(number)
                        closed_at = time.monotonic()
                    self.closes[code] += 1
                    self.events.append((time.time(), number, f"closed {code}"))
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - refused or reset while a server restarts: try again
                self.events.append((time.time(), number, f"{type(error).__name__}: {error}"))
                closed_at = closed_at or time.monotonic()
                await asyncio.sleep(0.2)

    async def all_connected(self, timeout):
        deadline = time.monotonic() + timeout
        while len(self.connected) < self.count and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return len(self.connected) == self.count
