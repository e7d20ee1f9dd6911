"""The scenarios. Each drives one target (the ceiling, a stack through nginx, a stack's daphnes
directly) with the shared load generator and records its figures with their conditions.

Every record: {"scenario", "target", "conditions": {...}, "figures": {...}, "problems": [...]}.
"problems" lists what must be zero and was not (errors, losses, stale members, sockets the
server dropped): the smoke test fails on any; the report prints them.
"""

import asyncio
import contextlib
import itertools
import math
import subprocess
import time
from pathlib import Path

from bench import httpc
from bench.stats import summary_ms
from bench.system import cpu_seconds, rss_kib

BROADCAST_IDS = itertools.count(1)


def instance_name(instance):
    """"host:daphne-1" -> "daphne-1" (the app's SERVER_INSTANCE_ID); "ceiling" stays."""
    return instance.rsplit(":", 1)[-1]


def by_instance(counts):
    merged = {}
    for instance, count in (counts or {}).items():
        merged[instance_name(instance)] = merged.get(instance_name(instance), 0) + count
    return dict(sorted(merged.items()))


def progress(scenario, conditions, figures):
    """A one-line summary for the console."""
    latency = figures.get("latency_ms") or {}
    if scenario == "idle":
        return f": held {figures.get('held')}, RSS/socket KiB {figures.get('rss_per_socket_kib')}"
    if scenario.startswith("storm_"):
        return (f" ({conditions.get('sockets')}): {figures.get('time_to_everyone_s', figures.get('time_s'))} s, "
                f"errors {figures.get('errors')}, stale {figures.get('stale_members')}")
    if scenario == "broadcast":
        return (f" {conditions.get('group_size')}: p50 {latency.get('p50')} ms, p99 {latency.get('p99')} ms, "
                f"{figures.get('deliveries_per_second')}/s, lost {figures.get('lost')}")
    if scenario in ("echo", "http_push"):
        return f": p50 {latency.get('p50')} ms, p99 {latency.get('p99')} ms, lost {figures.get('lost')}"
    if scenario == "handshake":
        return f" {conditions.get('auth_kind')}: {figures.get('per_second')}/s, errors {figures.get('errors')}"
    if scenario == "loadgen_ceiling":
        return f": {figures.get('echo_round_trips_per_second')} round trips/s"
    return ""


class Scenarios:
    def __init__(self, gen, params, out_dir, record, profile=None):
        self.gen, self.p, self.out, self.record_result = gen, params, Path(out_dir), record
        self.profile = profile  # None, or {"format": "flamegraph"|"speedscope", "target": name}

    # --- helpers ----------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def observed(self, target):
        """CPU use of every process involved, and what the stack logged, while the body runs."""
        groups = {"loadgen": list(self.gen.pids), **{k: [v] for k, v in target.servers().items() if v}}
        groups.update({k: v for k, v in target.helpers().items() if v})

        def cpu():
            return {name: sum(cpu_seconds(pid) or 0 for pid in pids) for name, pids in groups.items()}

        before, mark, start = cpu(), target.log_mark(), time.monotonic()
        box = {}
        yield box
        elapsed = time.monotonic() - start
        after = cpu()
        box["elapsed_s"] = round(elapsed, 2)
        box["cpu_percent"] = {name: round(100 * (after[name] - before[name]) / elapsed, 1) for name in groups}
        logged = target.log_errors(mark)
        if logged:
            box["logs"] = logged

    def record(self, scenario, target, conditions, figures, problems=(), observed=None):
        conditions = {**target.conditions, **conditions}
        if observed:
            conditions["elapsed_s"] = observed.get("elapsed_s")
            conditions["cpu_percent"] = observed.get("cpu_percent")
            if observed.get("logs"):
                figures = {**figures, "logs": observed["logs"]}
                if observed["logs"].get("tracebacks"):
                    problems = [*problems, f"tracebacks in the logs: {observed['logs']['tracebacks']}"]
        self.record_result({"scenario": scenario, "target": target.name, "conditions": conditions,
                            "figures": figures, "problems": list(problems)})
        print(f"  {target.name} {scenario}{progress(scenario, conditions, figures)}"
              f"{f'  PROBLEMS: {problems}' if problems else ''}", flush=True)

    async def unexpected_closes(self):
        stats = await self.gen.stats()
        await self.gen.forget_closes()
        return stats["unexpected_closes"], stats["server_errors"]

    def feed_spec(self, target, slug, auth="bearer"):
        return target.spec(f"/ws/feed/?team={slug}", auth=auth)

    async def open_set(self, target, set_name, n, spec):
        return await self.gen.open(set_name, n, spec, concurrency=self.p["open_concurrency"], timeout=30)

    # --- idle sockets and memory --------------------------------------------------------------
    async def idle(self, target, slug):
        """Open the pool step by step (each socket authenticated, in group feed.team.<slug>),
        reading every server's RSS at each step; then hold them all."""
        p = self.p
        spec = self.feed_spec(target, slug)
        await self.open_set(target, "warm-up", 20, spec)
        await self.gen.close("warm-up")
        await asyncio.sleep(1)
        servers = target.servers()
        helpers = target.helpers()
        base = {name: rss_kib(pid) for name, pid in servers.items()}
        steps, errors, held = [], {}, 0
        async with self.observed(target) as observed:
            for count in p["idle_steps"]:
                opened = await self.open_set(target, "pool", count - held, spec)
                for kind, n in opened["errors"].items():
                    errors[kind] = errors.get(kind, 0) + n
                await asyncio.sleep(p["settle_s"])
                stats = await self.gen.stats()
                held = stats["sets"].get("pool", 0)
                steps.append({
                    "sockets": held,
                    "per_instance": by_instance(stats["instances"].get("pool")),
                    "rss_kib": {name: rss_kib(pid) for name, pid in servers.items()},
                    "nginx_rss_kib": sum(rss_kib(pid) or 0 for pid in helpers.get("nginx", [])) or None,
                    "redis_rss_kib": sum(rss_kib(pid) or 0 for pid in helpers.get("redis", [])) or None,
                    "loadgen_rss_kib": stats["rss_kib"],
                })
            await asyncio.sleep(p["hold_s"])
            stats = await self.gen.stats()
        still = stats["sets"].get("pool", 0)
        last = steps[-1]
        per_socket = {}
        for name in servers:
            sockets = last["per_instance"].get(name, 0)
            if sockets and last["rss_kib"].get(name) and base.get(name):
                per_socket[name] = round((last["rss_kib"][name] - base[name]) / sockets, 2)
        members = target.group_members(slug)
        closes, server_errors = await self.unexpected_closes()
        problems = []
        if errors:
            problems.append(f"connect errors: {errors}")
        if still != p["idle_steps"][-1]:
            problems.append(f"held {still} of {p['idle_steps'][-1]} after {p['hold_s']} s")
        if closes:
            problems.append(f"sockets closed by the server: {closes}")
        self.record("idle", target, {"sockets": p["idle_steps"][-1], "route": "/ws/feed/ (bearer token, one group)",
                                      "hold_s": p["hold_s"], "open_concurrency": p["open_concurrency"]}, {
            "held": still, "rss_base_kib": base, "rss_per_socket_kib": per_socket,
            "rss_per_socket_kib_max": max(per_socket.values()) if per_socket else None,
            "steps": steps, "connect_errors": errors, "closed_by_server": closes, "server_errors": server_errors,
            "group_members": members,
        }, problems, observed)
        return still

    # --- storms -------------------------------------------------------------------------------
    async def storms(self, target, slug, n):
        """The pool (n sockets in feed.team.<slug>) all disconnects at once, all connects at
        once, then all reconnects at once (each closes and connects again immediately)."""
        p = self.p
        spec = self.feed_spec(target, slug)
        membership = target.membership

        # 1. everyone leaves at once
        async with self.observed(target) as observed:
            closed = await self.gen.close("pool")
            members, waited = (None, None)
            if target.group_members(slug) is not None:
                members, waited = await target.wait_group(slug, 0, p["stale_wait_s"])
        problems = []
        bad_codes = {code: k for code, k in closed["codes"].items() if code != "1000"}
        if bad_codes:
            problems.append(f"close codes other than 1000: {bad_codes}")
        if members:
            problems.append(f"{members} stale group members {waited} s after everyone left")
        self.record("storm_disconnect", target, {"sockets": n, "stale_wait_s": p["stale_wait_s"],
                                                  "membership": membership}, {
            "closed": closed["closed"], "time_s": closed["elapsed_s"], "close_codes": closed["codes"],
            "errors": sum(bad_codes.values()), "stale_members": members, "group_empty_after_s": waited,
        }, problems, observed)

        # 2. everyone connects at once (clients retry a failure with jittered backoff)
        async with self.observed(target) as observed:
            opened = await self.gen.open("pool", n, spec, concurrency=0, timeout=p["storm_timeout_s"],
                                         retry_for=p["storm_retry_s"])
            await asyncio.sleep(p["settle_s"])
        await self._after_storm("storm_connect", target, slug, n, opened, observed, {
            "time_to_everyone_s": opened["all_ready_s"], "connected": opened["opened"], "never": opened["failed"],
            "errors": sum(opened["errors"].values()), "error_kinds": opened["errors"],
            "handshake_ms": opened["handshake_ms"], "instances": by_instance(opened["instances"]),
        })

        # 3. everyone reconnects at once
        async with self.observed(target) as observed:
            again = await self.gen.reconnect("pool", spec, timeout=p["storm_timeout_s"], retry_for=p["storm_retry_s"])
            await asyncio.sleep(p["settle_s"])
        bad_codes = {code: k for code, k in again["close_codes"].items() if code != "1000"}
        await self._after_storm("storm_reconnect", target, slug, n, again, observed, {
            "time_to_everyone_s": again["all_ready_s"], "connected": again["reconnected"], "never": again["failed"],
            "errors": sum(again["errors"].values()) + sum(bad_codes.values()), "error_kinds": again["errors"],
            "close_codes": again["close_codes"], "handshake_ms": again["handshake_ms"],
            "instances": by_instance(again["instances"]),
        })

    async def _after_storm(self, scenario, target, slug, n, result, observed, figures):
        p = self.p
        connected = figures["connected"]
        # One member per process that has sockets in the group (realtime.groups), whatever the layer.
        expected = len(figures["instances"])
        members = None
        if target.group_members(slug) is not None:
            members, _ = await target.wait_group(slug, expected, p["stale_wait_s"])
        # Everyone who is connected must get a broadcast: membership is what counts.
        check = await self.broadcast_rounds(target, slug, connected, 1)
        closes, server_errors = await self.unexpected_closes()
        figures = {**figures, "group_members": members,
                   "stale_members": None if members is None else max(0, members - expected),
                   "missing_members": None if members is None else max(0, expected - members),
                   "broadcast_after": {"members": connected, "lost": check["lost"],
                                       "p99_ms": check["latency_ms"]["p99"]},
                   "closed_by_server": closes, "server_errors": server_errors}
        problems = []
        if figures["errors"]:
            problems.append(f"{figures['errors']} errors: {figures['error_kinds']}")
        if figures["never"]:
            problems.append(f"{figures['never']} of {n} never connected")
        if figures["stale_members"]:
            problems.append(f"{figures['stale_members']} stale group members")
        if figures["missing_members"]:
            problems.append(f"{figures['missing_members']} members missing from the group")
        if check["lost"]:
            problems.append(f"{check['lost']} of {connected} deliveries lost in the broadcast after the storm")
        if closes:
            problems.append(f"sockets closed by the server: {closes}")
        self.record(scenario, target, {"sockets": n, "membership": target.membership,
                                        "connect_timeout_s": p["storm_timeout_s"], "retry_for_s": p["storm_retry_s"],
                                        "retry": "jittered exponential backoff 0.5 s .. 5 s"},
                    figures, problems, observed)

    # --- broadcast ----------------------------------------------------------------------------
    async def broadcast_rounds(self, target, slug, members, count, profile_pid=None):
        """`count` announcements to feed.team.<slug>, one after the other: each is sent once the
        previous one reached every member (or timed out)."""
        p = self.p
        ids = [next(BROADCAST_IDS) for _ in range(count)]
        token = target.token
        http_s, statuses, rates = [], {}, []
        timeout = p["delivery_timeout_s"] + members / 500
        profiler = self._start_profiler(target, profile_pid, members, count)
        for ident in ids:
            sent = time.monotonic()
            status, _ = await httpc.request(
                "POST", target.http_base + "/api/feed/announce/", token=token,
                body={"scope": "team", "value": slug, "message": f"b:{ident}:{sent:.6f}"}, timeout=30)
            http_s.append(time.monotonic() - sent)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            while True:
                got = (await self.gen.received([ident]))[ident]
                if got >= members or time.monotonic() - sent > timeout:
                    break
                await asyncio.sleep(0.01 if members <= 100 else 0.05)
            await asyncio.sleep(p["broadcast_gap_s"])
        latencies, duplicates = await self.gen.receipts(ids)
        profile = self._stop_profiler(profiler)
        every = [t for ident in ids for t in latencies[ident]]
        for ident in ids:
            if latencies[ident]:
                rates.append(len(latencies[ident]) / max(latencies[ident]))
        rates.sort()
        return {
            "broadcasts": count, "members": members, "expected": members * count, "delivered": len(every),
            "lost": members * count - len(every), "duplicates": duplicates, "http_statuses": statuses,
            "latency_ms": summary_ms(every), "announce_http_ms": summary_ms(http_s),
            "deliveries_per_second": round(rates[len(rates) // 2], 1) if rates else None,
            **({"profile": profile} if profile else {}),
        }

    def _start_profiler(self, target, pid, members, count):
        if not pid:
            return None
        duration = max(5, math.ceil(count * (self.p["broadcast_gap_s"] + 0.5 + members / 4000)))
        name = f"profile-{target.name}-broadcast-{members}"
        output = self.out / (f"{name}.svg" if self.profile["format"] == "flamegraph" else f"{name}.speedscope.json")
        # 1,000 samples/s: a broadcast lasts tens of milliseconds, py-spy's default 100/s saw too little of it.
        command = [str(Path(self.p["python_bin"]) / "py-spy"), "record", "--pid", str(pid), "--rate", "1000",
                   "--duration", str(duration), "--format", self.profile["format"], "-o", str(output)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)  # py-spy attaches
        return process, output, command

    def _stop_profiler(self, profiler):
        if not profiler:
            return None
        process, output, command = profiler
        try:
            _, errors = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            _, errors = process.communicate()
        return {"file": output.name, "command": " ".join(command), "ok": process.returncode == 0 and output.exists(),
                **({"stderr": errors.strip()[-500:]} if process.returncode else {})}

    async def broadcast(self, target, sizes, pool_slug=None, pool_size=0):
        """Fan-out to groups of each size, members spread over every instance by nginx."""
        p = self.p
        for size in sizes:
            use_pool = size == pool_size and pool_slug
            slug = pool_slug if use_pool else f"bench-{target.name}-g{size}"
            opened = None
            if not use_pool:
                opened = await self.open_set(target, f"g{size}", size, self.feed_spec(target, slug))
            stats = await self.gen.stats()
            set_name = "pool" if use_pool else f"g{size}"
            members = stats["sets"].get(set_name, 0)
            instances = by_instance(stats["instances"].get(set_name))
            if target.group_members(slug) is not None:
                await target.wait_group(slug, len(instances), p["stale_wait_s"])
            profile_pid = None
            if self.profile and self.profile["target"] == target.name and size == max(sizes):
                profile_pid = target.servers().get("daphne-1")
            count = p["broadcasts"] if size < 10000 else p["broadcasts_large"]
            async with self.observed(target) as observed:
                result = await self.broadcast_rounds(target, slug, members, count, profile_pid)
            closes, server_errors = await self.unexpected_closes()
            problems = []
            if opened and opened["errors"]:
                problems.append(f"connect errors: {opened['errors']}")
            if members != size:
                problems.append(f"only {members} of {size} members connected")
            if result["lost"]:
                problems.append(f"{result['lost']} of {result['expected']} deliveries lost")
            if result["duplicates"]:
                problems.append(f"{result['duplicates']} duplicate deliveries")
            if set(result["http_statuses"]) != {"202"}:
                problems.append(f"announce answered {result['http_statuses']}")
            if closes:
                problems.append(f"sockets closed by the server: {closes}")
            self.record("broadcast", target, {
                "group_size": size, "members_per_instance": instances, "broadcasts": count,
                "trigger": "POST /api/feed/announce/ (as carol), next one after full delivery",
                "latency": "announce sent -> frame received by each member",
            }, {**result, "closed_by_server": closes, "server_errors": server_errors}, problems, observed)
            if not use_pool:
                await self.gen.close(f"g{size}")

    async def http_push(self, target):
        """HTTP action -> WebSocket push: one member, one announcement at a time."""
        p = self.p
        slug = f"bench-{target.name}-push"
        opened = await self.open_set(target, "push", 1, self.feed_spec(target, slug))
        async with self.observed(target) as observed:
            result = await self.broadcast_rounds(target, slug, 1, p["push_count"])
        closes, _ = await self.unexpected_closes()
        await self.gen.close("push")
        problems = [f"{result['lost']} pushes lost"] if result["lost"] else []
        if opened["errors"]:
            problems.append(f"connect errors: {opened['errors']}")
        if closes:
            problems.append(f"sockets closed by the server: {closes}")
        self.record("http_push", target, {"pushes": p["push_count"], "members": 1,
                                           "latency": "POST /api/feed/announce/ sent -> frame received"},
                    {"latency_ms": result["latency_ms"], "announce_http_ms": result["announce_http_ms"],
                     "lost": result["lost"], "http_statuses": result["http_statuses"]}, problems, observed)

    # --- echo ---------------------------------------------------------------------------------
    async def echo(self, target):
        """Round trips at a fixed offered rate (open loop), spread over sockets that each stay
        well under the app's per-socket limit (20 messages/s)."""
        p = self.p
        rate, duration = p["echo_rate"], p["echo_duration_s"]
        sockets = max(self.gen.count, math.ceil(rate / p["echo_per_socket"]))
        opened = await self.open_set(target, "echo", sockets, target.spec("/ws/test/"))
        async with self.observed(target) as observed:
            result = await self.gen.echo("echo", rate, duration)
        closes, server_errors = await self.unexpected_closes()
        await self.gen.close("echo")
        problems = []
        if result["lost"] or result["send_errors"]:
            problems.append(f"{result['lost']} echoes lost, {result['send_errors']} not sent")
        if opened["errors"]:
            problems.append(f"connect errors: {opened['errors']}")
        if closes or server_errors:
            problems.append(f"closed by the server: {closes}, error frames: {server_errors}")
        self.record("echo", target, {"offered_per_second": rate, "duration_s": duration, "sockets": sockets,
                                      "route": "/ws/test/", "schedule": "open loop, latency from the due time"},
                    {**result, "closed_by_server": closes}, problems, observed)

    # --- handshakes ---------------------------------------------------------------------------
    async def handshakes(self, target, kinds=("none", "bearer", "ticket")):
        """Connect, first frame, close: `handshake_concurrency` loops until n are done."""
        p = self.p
        for auth in kinds:
            spec = target.spec("/ws/test/", auth=auth)
            async with self.observed(target) as observed:
                result = await self.gen.handshakes(spec, p["handshakes"], p["handshake_concurrency"])
            problems = [f"errors: {result['errors']}"] if result["errors"] else []
            self.record("handshake", target, {
                "auth": {"none": "none", "bearer": "token (bearer subprotocol)",
                         "ticket": "ticket (POST /api/ws/ticket/ first)"}[auth],
                "auth_kind": auth, "handshakes": p["handshakes"], "concurrency": p["handshake_concurrency"],
                "route": "/ws/test/", "cycle": "connect, connection_established, close"}, {
                "per_second": result["per_second"], "handshake_ms": result["handshake_ms"],
                "errors": result["errors"], "instances": by_instance(result["instances"]),
            }, problems, observed)

    # --- the load generator's own ceiling -----------------------------------------------------
    async def loadgen_ceiling(self, target, held):
        """What the load generator reaches against the bare server: its ceiling on this machine
        (it shares the cores with whatever it measures)."""
        p = self.p
        sockets = max(self.gen.count, min(held, p["saturate_sockets"]))
        await self.open_set(target, "saturate", sockets, target.spec("/ws/test/"))
        async with self.observed(target) as observed:
            result = await self.gen.saturate("saturate", p["saturate_s"])
        await self.gen.close("saturate")
        self.record("loadgen_ceiling", target, {
            "workers": self.gen.count, "source_addresses": self.gen.count * self.gen.sources_each,
            "nofile_per_worker": self.gen.nofile, "saturate_sockets": sockets, "saturate_s": p["saturate_s"]}, {
            "sockets_held": held, "echo_round_trips_per_second": result["per_second"],
            "echo_latency_ms": result["latency_ms"],
        }, [], observed)
