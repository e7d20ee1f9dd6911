"""The load generator: several worker processes that each hold thousands of WebSockets, and a
controller (`LoadGen`) that drives them over a small JSON-lines API on their stdin/stdout.

One process may open 20,000 files here (the hard nofile limit), and one Python event loop is
one core: sockets are spread over `workers` processes, and each worker spreads its sockets over
source addresses of its own (127.0.0.2, 127.0.0.3, ...: nginx's limits are per client IP, and
each address has its own ephemeral ports).

Worker commands (each reply carries the command's "id"; commands may overlap):
  open       open n sockets into a named set (all at once, or at most `concurrency` in flight;
             with retry_for, a failed attempt is retried with jittered backoff, as clients do)
  close      close every socket of a set at once
  reconnect  every socket of a set closes and connects again at once
  handshakes connect + connection_established + close, `concurrency` loops, n times
  echo       {"type": "echo"} at a fixed offered rate over a set's sockets (open loop: latency
             counted from the scheduled send time), or closed loop (`saturate`)
  counts / receipts   broadcast receipts: latency of every {"type": "feed"} message whose
             "message" is "b:<id>:<monotonic send time>" (CLOCK_MONOTONIC is one clock for every
             process of the machine)
  stats      open sockets per set, sockets the server closed (by close code), own RSS and CPU
The standalone CLI holds sockets against any URL and reports what it achieved:

    .venv/bin/python -m bench.loadgen ws://127.0.0.1:8080/ws/test/ --sockets 10000 --hold 30
"""

import argparse
import asyncio
import contextlib
import errno
import ipaddress
import itertools
import json
import math
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from websockets.asyncio.client import connect, unix_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bench import httpc
from bench.stats import merge_counts, summary_ms
from bench.system import cpu_seconds, raise_nofile, rss_kib

ORIGIN = "http://127.0.0.1"
REPO_DIR = Path(__file__).resolve().parents[1]


class HandshakeFailed(Exception):
    pass


def classify(error):
    """A short, countable name for why a connect failed."""
    if isinstance(error, InvalidStatus):
        return f"http {error.response.status_code}"
    if isinstance(error, ConnectionClosed):
        return f"closed {error.rcvd.code if error.rcvd else 1006}"
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, HandshakeFailed):
        return str(error)
    if isinstance(error, OSError) and error.errno:
        return f"os {errno.errorcode.get(error.errno, error.errno)}"
    return type(error).__name__


def with_query(url, **params):
    return url + ("&" if urlsplit(url).query else "?") + urlencode(params)


class Client:
    __slots__ = ("ws", "instance", "task", "closing", "received")

    def __init__(self, ws, instance):
        self.ws, self.instance = ws, instance
        self.task, self.closing, self.received = None, False, set()


class Worker:
    def __init__(self, index, sources):
        self.index = index
        self.sources = itertools.cycle(sources)
        self.unix_turn = itertools.count()
        self.sets = {}  # name -> {Client: None} (insertion-ordered set)
        self.receipts = {}  # broadcast id -> [latency s]
        self.duplicates = 0
        self.pending = {}  # echo sequence -> scheduled send time, or a future (closed loop)
        self.echo_latencies = []
        self.unexpected_closes = Counter()  # sockets the server (or the network) closed
        self.server_errors = Counter()  # {"type": "error"} frames, by code
        self.out = sys.stdout.buffer

    # --- one socket ---------------------------------------------------------------------
    async def connect(self, spec, timeout):
        """Open one socket as spec says; (websocket, server instance) once its first frame
        (connection_established) has arrived."""
        return await asyncio.wait_for(self._connect(spec, timeout), timeout)

    async def _connect(self, spec, timeout):
        source = next(self.sources)
        url, auth = spec["url"], spec.get("auth", "none")
        options = {"origin": spec.get("origin", ORIGIN), "compression": None, "ping_interval": None,
                   "open_timeout": None, "close_timeout": 10, "max_size": 2**20}
        if auth == "ticket":
            status, body = await httpc.request("POST", spec["http"] + "/api/ws/ticket/", token=spec["token"],
                                               local_addr=(source, 0), timeout=timeout)
            if status != 201:
                raise HandshakeFailed(f"ticket http {status}")
            url = with_query(url, ticket=body["ticket"])
        elif auth == "query":
            url = with_query(url, token=spec["token"])
        elif auth == "bearer":
            options["subprotocols"] = ["bearer", spec["token"]]
        if spec.get("unix"):
            paths = spec["unix"]
            ws = await unix_connect(paths[next(self.unix_turn) % len(paths)], url, **options)
        else:
            ws = await connect(url, proxy=None, local_addr=(source, 0), **options)
        try:
            first = json.loads(await ws.recv())
        except BaseException:
            ws.transport.abort()
            raise
        if first.get("type") != "connection_established":
            await ws.close()
            raise HandshakeFailed(f"first frame {first.get('type')}")
        return ws, first["server"]["instance"]

    def adopt(self, set_name, ws, instance):
        client = Client(ws, instance)
        self.sets.setdefault(set_name, {})[client] = None
        client.task = asyncio.create_task(self.read(set_name, client))
        return client

    async def read(self, set_name, client):
        on_message = self.on_message
        try:
            async for text in client.ws:
                try:
                    on_message(client, text, time.monotonic())
                except (ValueError, AttributeError, TypeError):
                    self.server_errors["unreadable frame"] += 1
        except ConnectionClosed:
            pass
        finally:
            if not client.closing:
                self.unexpected_closes[str(client.ws.close_code or 1006)] += 1
                self.sets.get(set_name, {}).pop(client, None)

    def on_message(self, client, text, now):
        message = json.loads(text)
        kind = message.get("type")
        if kind == "feed":
            body = message.get("message") or ""
            if body.startswith("b:"):
                _, ident, sent = body.split(":")
                ident = int(ident)
                if ident in client.received:
                    self.duplicates += 1
                    return
                client.received.add(ident)
                self.receipts.setdefault(ident, []).append(now - float(sent))
        elif kind in ("echo", "pong"):
            waiting = self.pending.pop(message.get("data") or message.get("ts"), None)
            if isinstance(waiting, float):
                self.echo_latencies.append(now - waiting)
            elif waiting is not None and not waiting.done():
                waiting.set_result(now)
        elif kind == "error":
            self.server_errors[str(message.get("code"))] += 1

    async def _connect_retrying(self, set, spec, timeout, gate, start, retry_for, errors, handshakes, instances):
        """Connect one client into `set`, retrying with jittered backoff (0.5 s doubling to 5 s)
        until `retry_for` seconds after `start`; every failure is counted in `errors` by kind.
        Returns the seconds from `start` to connected, or None."""
        delay = 0.5
        while True:
            began = time.monotonic()
            try:
                async with gate:
                    ws, instance = await self.connect(spec, timeout)
            except Exception as error:  # noqa: BLE001 - every failure is counted by kind
                errors[classify(error)] += 1
                if time.monotonic() + delay < start + retry_for:
                    await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                    delay = min(delay * 2, 5.0)
                    continue
                return None
            handshakes.append(time.monotonic() - began)
            instances[instance] += 1
            self.adopt(set, ws, instance)
            return time.monotonic() - start

    # --- commands -------------------------------------------------------------------------
    async def cmd_open(self, set, n, spec, concurrency=0, timeout=30.0, retry_for=0.0):
        gate = asyncio.Semaphore(concurrency) if concurrency else contextlib.nullcontext()
        errors, handshakes, instances = Counter(), [], Counter()
        start = time.monotonic()

        async def one():
            return await self._connect_retrying(set, spec, timeout, gate, start, retry_for,
                                                errors, handshakes, instances)

        ready = [t for t in await asyncio.gather(*(one() for _ in range(n))) if t is not None]
        return {"opened": len(ready), "failed": n - len(ready), "errors": dict(errors), "handshake_s": handshakes,
                "ready_s": ready, "instances": dict(instances)}

    async def _close(self, client):
        client.closing = True
        try:
            await client.ws.close()
            await client.task
        except Exception as error:  # noqa: BLE001
            return f"error {classify(error)}"
        return str(client.ws.close_code)

    async def cmd_close(self, set):
        clients = list(self.sets.pop(set, {}))
        start = time.monotonic()
        codes = Counter(await asyncio.gather(*(self._close(c) for c in clients)))
        return {"closed": len(clients), "codes": dict(codes), "elapsed": time.monotonic() - start}

    async def cmd_reconnect(self, set, spec, timeout=30.0, retry_for=60.0):
        clients = list(self.sets.pop(set, {}))
        self.sets[set] = {}
        errors, codes, instances, handshakes = Counter(), Counter(), Counter(), []
        start = time.monotonic()

        async def one(client):
            codes[await self._close(client)] += 1
            return await self._connect_retrying(set, spec, timeout, contextlib.nullcontext(), start, retry_for,
                                                errors, handshakes, instances)

        ready = [t for t in await asyncio.gather(*(one(c) for c in clients)) if t is not None]
        return {"reconnected": len(ready), "failed": len(clients) - len(ready), "errors": dict(errors),
                "close_codes": dict(codes), "handshake_s": handshakes, "ready_s": ready, "instances": dict(instances)}

    async def cmd_handshakes(self, spec, n, concurrency, timeout=30.0):
        errors, handshakes, instances = Counter(), [], Counter()
        remaining = iter(range(n))
        start = time.monotonic()

        async def loop():
            for _ in remaining:
                began = time.monotonic()
                try:
                    ws, instance = await self.connect(spec, timeout)
                except Exception as error:  # noqa: BLE001
                    errors[classify(error)] += 1
                    continue
                handshakes.append(time.monotonic() - began)
                instances[instance] += 1
                try:
                    await ws.close()
                except Exception as error:  # noqa: BLE001
                    errors[f"close {classify(error)}"] += 1

        await asyncio.gather(*(loop() for _ in range(max(1, concurrency))))
        return {"done": len(handshakes), "errors": dict(errors), "handshake_s": handshakes,
                "elapsed": time.monotonic() - start, "instances": dict(instances)}

    async def cmd_echo(self, set, rate, duration, grace=5.0):
        """Open loop: message k is due at start + k / rate, whatever the answers do."""
        clients = list(self.sets.get(set, {}))
        if not clients:
            raise RuntimeError(f"no open socket in set {set!r}")
        self.pending.clear()
        self.echo_latencies = []
        total = int(rate * duration)
        send_errors, lag = 0, 0.0
        start = time.monotonic() + 0.05
        for k in range(total):
            due = start + k / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                lag = max(lag, -delay)
            client = clients[k % len(clients)]
            sequence = f"{self.index}-{k}"
            self.pending[sequence] = due
            try:
                await client.ws.send(f'{{"type": "echo", "data": "{sequence}"}}')
            except ConnectionClosed:
                send_errors += 1
                self.pending.pop(sequence, None)
        sent_for = time.monotonic() - start
        deadline = time.monotonic() + grace
        while self.pending and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        lost = len(self.pending)
        self.pending.clear()
        return {"sent": total - send_errors, "send_errors": send_errors, "lost": lost, "latency_s": self.echo_latencies,
                "sent_for": sent_for, "max_send_lag": lag}

    async def cmd_saturate(self, set, duration):
        """Closed loop: each socket sends its next echo when the previous answer arrives."""
        clients = list(self.sets.get(set, {}))
        loop = asyncio.get_running_loop()
        end = time.monotonic() + duration
        latencies = []

        async def pinger(i, client):
            for k in itertools.count():
                if time.monotonic() >= end:
                    return
                sequence = f"s{self.index}-{i}-{k}"
                answered = loop.create_future()
                self.pending[sequence] = answered
                began = time.monotonic()
                await client.ws.send(f'{{"type": "echo", "data": "{sequence}"}}')
                latencies.append(await asyncio.wait_for(answered, 10) - began)

        start = time.monotonic()
        await asyncio.gather(*(pinger(i, c) for i, c in enumerate(clients)), return_exceptions=True)
        return {"round_trips": len(latencies), "elapsed": time.monotonic() - start, "latency_s": latencies}

    async def cmd_counts(self, ids):
        return {str(i): len(self.receipts.get(i, ())) for i in ids}

    async def cmd_receipts(self, ids, forget=True):
        found = {str(i): self.receipts.get(i, []) for i in ids}
        duplicates = self.duplicates
        if forget:
            for i in ids:
                self.receipts.pop(i, None)
            self.duplicates = 0
        return {"latency_s": found, "duplicates": duplicates}

    async def cmd_stats(self):
        return {
            "sets": {name: len(clients) for name, clients in self.sets.items()},
            "instances": {name: dict(Counter(c.instance for c in clients)) for name, clients in self.sets.items()},
            "unexpected_closes": dict(self.unexpected_closes),
            "server_errors": dict(self.server_errors),
            "rss_kib": rss_kib(os.getpid()),
            "cpu_s": cpu_seconds(os.getpid()),
        }

    async def cmd_forget_closes(self):
        self.unexpected_closes.clear()
        self.server_errors.clear()
        return {}

    # --- the control channel ----------------------------------------------------------------
    def reply(self, message):
        self.out.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        self.out.flush()

    async def handle(self, request):
        ident = request.pop("id")
        command = request.pop("cmd")
        try:
            result = await getattr(self, f"cmd_{command}")(**request)
            self.reply({"id": ident, "ok": True, "result": result})
        except Exception as error:  # noqa: BLE001 - the controller raises it
            self.reply({"id": ident, "ok": False, "error": f"{type(error).__name__}: {error}"})

    async def serve(self):
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=2**26)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        tasks = set()
        self.reply({"id": 0, "ok": True, "result": {"pid": os.getpid(), "nofile": raise_nofile()}})
        while line := await reader.readline():
            request = json.loads(line)
            if request.get("cmd") == "quit":
                break
            task = asyncio.create_task(self.handle(request))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        for clients in self.sets.values():
            for client in clients:
                client.closing = True
                client.ws.transport.abort()


def source_addresses(first, count):
    base = ipaddress.IPv4Address(first)
    return [str(base + i) for i in range(count)]


class LoadGen:
    """The controller: `workers` processes, each with `sources` source addresses of its own."""

    def __init__(self, workers=4, sources=8, log_dir=None, first_source="127.0.0.2"):
        self.count, self.sources_each, self.first_source = workers, sources, first_source
        self.log_dir = Path(log_dir) if log_dir else None
        self.workers, self.futures, self.readers = [], {}, []
        self.ids = itertools.count(1)
        self.pids = []

    async def __aenter__(self):
        await self.start()
        return self

    async def __aexit__(self, *exc):
        await self.stop()

    async def start(self):
        addresses = source_addresses(self.first_source, self.count * self.sources_each)
        for index in range(self.count):
            sources = addresses[index * self.sources_each:(index + 1) * self.sources_each]
            log = open(self.log_dir / f"loadgen-{index}.log", "ab") if self.log_dir else None  # noqa: SIM115
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.loadgen", "--worker", str(index), "--worker-sources", ",".join(sources),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=log or asyncio.subprocess.DEVNULL, cwd=REPO_DIR, limit=2**28,
                env={**os.environ, "PYTHONPATH": str(REPO_DIR)},
            )
            if log:
                log.close()
            self.workers.append(process)
            self.readers.append(asyncio.create_task(self._read(index, process)))
        hello = await asyncio.gather(*(self._await(index, 0) for index in range(self.count)))
        self.pids = [h["pid"] for h in hello]
        self.nofile = hello[0]["nofile"]

    def _future(self, index, ident):
        return self.futures.setdefault((index, ident), asyncio.get_running_loop().create_future())

    async def _await(self, index, ident, timeout=None):
        return await asyncio.wait_for(self._future(index, ident), timeout)

    async def _read(self, index, process):
        while line := await process.stdout.readline():
            message = json.loads(line)
            future = self._future(index, message["id"])
            if message["ok"]:
                future.set_result(message["result"])
            else:
                future.set_exception(RuntimeError(f"load generator worker {index}: {message['error']}"))
            self.futures.pop((index, message["id"]), None)
        for (i, _), future in list(self.futures.items()):
            if i == index and not future.done():
                future.set_exception(RuntimeError(f"load generator worker {index} exited"))

    async def call(self, index, cmd, **args):
        ident = next(self.ids)
        future = self._future(index, ident)
        self.workers[index].stdin.write(json.dumps({"id": ident, "cmd": cmd, **args}).encode() + b"\n")
        await self.workers[index].stdin.drain()
        return await future

    async def each(self, cmd, args_by_worker):
        return await asyncio.gather(*(self.call(i, cmd, **args) for i, args in enumerate(args_by_worker)))

    def split(self, n):
        return [n // self.count + (1 if i < n % self.count else 0) for i in range(self.count)]

    async def stop(self):
        for process in self.workers:
            if process.returncode is None:
                with contextlib.suppress(ConnectionError):
                    process.stdin.write(b'{"cmd": "quit"}\n')
                    await process.stdin.drain()
        for process in self.workers:
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
        for reader in self.readers:
            reader.cancel()
        self.workers = []

    # --- aggregated commands ---------------------------------------------------------------
    async def open(self, set, n, spec, concurrency=0, timeout=30.0, retry_for=0.0):
        """n sockets into `set`; concurrency 0 = all at once."""
        per = self.split(n)
        each = [math.ceil(concurrency / self.count) if concurrency else 0] * self.count
        start = time.monotonic()
        replies = await self.each("open", [
            {"set": set, "n": k, "spec": spec, "concurrency": c, "timeout": timeout, "retry_for": retry_for}
            for k, c in zip(per, each, strict=True)])
        elapsed = time.monotonic() - start
        ready = [t for r in replies for t in r["ready_s"]]
        return {
            "sockets": n, "opened": sum(r["opened"] for r in replies), "failed": sum(r["failed"] for r in replies),
            "errors": merge_counts(r["errors"] for r in replies), "elapsed_s": round(elapsed, 3),
            "all_ready_s": round(max(ready), 3) if ready else None,
            "handshake_ms": summary_ms([t for r in replies for t in r["handshake_s"]]),
            "instances": merge_counts(r["instances"] for r in replies),
        }

    async def close(self, set):
        start = time.monotonic()
        replies = await self.each("close", [{"set": set}] * self.count)
        return {"closed": sum(r["closed"] for r in replies), "codes": merge_counts(r["codes"] for r in replies),
                "elapsed_s": round(time.monotonic() - start, 3)}

    async def reconnect(self, set, spec, timeout=30.0, retry_for=60.0):
        start = time.monotonic()
        replies = await self.each("reconnect", [
            {"set": set, "spec": spec, "timeout": timeout, "retry_for": retry_for}] * self.count)
        ready = [t for r in replies for t in r["ready_s"]]
        return {
            "reconnected": sum(r["reconnected"] for r in replies), "failed": sum(r["failed"] for r in replies),
            "errors": merge_counts(r["errors"] for r in replies),
            "close_codes": merge_counts(r["close_codes"] for r in replies),
            "elapsed_s": round(time.monotonic() - start, 3), "all_ready_s": round(max(ready), 3) if ready else None,
            "handshake_ms": summary_ms([t for r in replies for t in r["handshake_s"]]),
            "instances": merge_counts(r["instances"] for r in replies),
        }

    async def handshakes(self, spec, n, concurrency, timeout=30.0):
        per, each = self.split(n), self.split(concurrency)
        start = time.monotonic()
        replies = await self.each("handshakes", [
            {"spec": spec, "n": k, "concurrency": c, "timeout": timeout} for k, c in zip(per, each, strict=True)])
        elapsed = time.monotonic() - start
        done = sum(r["done"] for r in replies)
        return {"handshakes": done, "errors": merge_counts(r["errors"] for r in replies),
                "elapsed_s": round(elapsed, 3), "per_second": round(done / elapsed, 1) if elapsed else None,
                "handshake_ms": summary_ms([t for r in replies for t in r["handshake_s"]]),
                "instances": merge_counts(r["instances"] for r in replies), "concurrency": concurrency}

    async def echo(self, set, rate, duration, grace=5.0):
        replies = await self.each("echo", [
            {"set": set, "rate": rate / self.count, "duration": duration, "grace": grace}] * self.count)
        sent = sum(r["sent"] for r in replies)
        latencies = [t for r in replies for t in r["latency_s"]]
        return {"offered_per_second": rate, "duration_s": duration, "sent": sent,
                "received": len(latencies), "lost": sum(r["lost"] for r in replies),
                "send_errors": sum(r["send_errors"] for r in replies),
                "max_send_lag_ms": round(max(r["max_send_lag"] for r in replies) * 1000, 3),
                "latency_ms": summary_ms(latencies)}

    async def saturate(self, set, duration):
        replies = await self.each("saturate", [{"set": set, "duration": duration}] * self.count)
        trips = sum(r["round_trips"] for r in replies)
        elapsed = max(r["elapsed"] for r in replies)
        return {"round_trips": trips, "per_second": round(trips / elapsed, 1) if elapsed else None,
                "latency_ms": summary_ms([t for r in replies for t in r["latency_s"]])}

    async def received(self, ids):
        replies = await self.each("counts", [{"ids": list(ids)}] * self.count)
        return {i: sum(r[str(i)] for r in replies) for i in ids}

    async def receipts(self, ids):
        replies = await self.each("receipts", [{"ids": list(ids)}] * self.count)
        return ({i: [t for r in replies for t in r["latency_s"][str(i)]] for i in ids},
                sum(r["duplicates"] for r in replies))

    async def stats(self):
        replies = await self.each("stats", [{}] * self.count)
        names = {name for r in replies for name in r["sets"]}
        return {
            "sets": {name: sum(r["sets"].get(name, 0) for r in replies) for name in sorted(names)},
            "instances": {name: merge_counts(r["instances"].get(name, {}) for r in replies) for name in sorted(names)},
            "unexpected_closes": merge_counts(r["unexpected_closes"] for r in replies),
            "server_errors": merge_counts(r["server_errors"] for r in replies),
            "rss_kib": sum(r["rss_kib"] or 0 for r in replies),
            "cpu_s": sum(r["cpu_s"] or 0 for r in replies),
        }

    async def forget_closes(self):
        await self.each("forget_closes", [{}] * self.count)


# --- the standalone CLI ----------------------------------------------------------------------
async def hold(args):
    spec = {"url": args.url, "auth": "none"}
    async with LoadGen(workers=args.workers, sources=args.sources) as gen:
        opened = await gen.open("held", args.sockets, spec, concurrency=args.concurrency, timeout=30)
        print(json.dumps({"open": opened}, indent=1))
        await asyncio.sleep(args.hold)
        stats = await gen.stats()
        print(json.dumps({"after_hold": {"held": stats["sets"].get("held", 0),
                                         "closed_by_server": stats["unexpected_closes"],
                                         "loadgen_rss_mib": round(stats["rss_kib"] / 1024, 1)}}, indent=1))
        print(json.dumps({"close": await gen.close("held")}, indent=1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", help="ws:// URL to hold sockets on (standalone use)")
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=10.0, help="seconds to hold them")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--sources", type=int, default=8, help="source addresses per worker")
    parser.add_argument("--concurrency", type=int, default=200, help="handshakes in flight (0: all at once)")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-sources", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        asyncio.run(Worker(args.worker, args.worker_sources.split(",")).serve())
    elif args.url:
        asyncio.run(hold(args))
    else:
        parser.error("give a ws:// URL")


if __name__ == "__main__":
    main()
