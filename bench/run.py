"""The benchmark suite of issue 11: every scenario against the bare `websockets` ceiling, the
local production stack through nginx (the default configuration), the same stack's daphnes
reached directly, and the peers (uvicorn instead of daphne, RedisPubSubChannelLayer instead of
RedisChannelLayer), all in one run with one load generator.

    .venv/bin/python -m bench.run --quick               # make bench: a few minutes (CI proves it works)
    .venv/bin/python -m bench.run --full                # make bench-full: 10,000 sockets, ~20 minutes
    .venv/bin/python -m bench.run --full --profile      # + py-spy profiles of daphne-1 in the broadcasts

Writes results.json (every figure and its conditions), results.md (tables, ratios to the
ceiling and to the default configuration, the issue's targets) and the PNG plots into --out
(default bench/results/<profile>). Times are reported, never asserted; with --strict the exit
status is 1 when a scenario had a problem (an error, a loss, a stale group member).
"""

import argparse
import asyncio
import datetime
import shlex
import sys
import time
import traceback
from pathlib import Path

from bench import report
from bench.loadgen import LoadGen
from bench.scenarios import Scenarios
from bench.system import code_state, machine, raise_nofile
from bench.targets import Ceiling, Direct, Stack

BENCH_DIR = Path(__file__).resolve().parent

COMMON = {
    "python_bin": str(Path(sys.executable).parent),
    "settle_s": 2.0,
    "stale_wait_s": 30.0,
    "storm_timeout_s": 60.0,
    "storm_retry_s": 180.0,
    "broadcast_gap_s": 0.2,
    "delivery_timeout_s": 10.0,
    "echo_per_socket": 5,
}
PROFILES = {
    # The e2e smoke test: every scenario and target kind, tiny.
    "smoke": {**COMMON, "workers": 2, "sources": 4, "open_concurrency": 50, "idle_steps": [50, 100], "hold_s": 1.0,
              "settle_s": 0.5, "stale_wait_s": 10.0, "storm_timeout_s": 20.0, "storm_retry_s": 30.0,
              "broadcast_sizes": [10, 100], "broadcasts": 2, "broadcasts_large": 2, "broadcast_gap_s": 0.05,
              "push_count": 5, "echo_rate": 50, "echo_duration_s": 1.0, "handshakes": 40, "handshake_concurrency": 8,
              "saturate_sockets": 20, "saturate_s": 1.0, "peers": ["uvicorn", "pubsub"]},
    # make bench: the whole suite at 1,000 sockets, a few minutes.
    "quick": {**COMMON, "workers": 2, "sources": 8, "open_concurrency": 100, "idle_steps": [250, 500, 1000],
              "hold_s": 3.0, "settle_s": 1.0, "stale_wait_s": 15.0, "storm_timeout_s": 30.0, "storm_retry_s": 60.0,
              "broadcast_sizes": [10, 100, 1000], "broadcasts": 5, "broadcasts_large": 3, "push_count": 20,
              "echo_rate": 200, "echo_duration_s": 3.0, "handshakes": 300, "handshake_concurrency": 20,
              "saturate_sockets": 100, "saturate_s": 2.0, "peers": ["uvicorn", "pubsub"]},
    # make bench-full: what issue 11 asks for.
    "full": {**COMMON, "workers": 4, "sources": 8, "open_concurrency": 200,
             "idle_steps": [1000, 2500, 5000, 7500, 10000], "hold_s": 25.0,
             "broadcast_sizes": [10, 100, 1000, 10000], "broadcasts": 10, "broadcasts_large": 5, "push_count": 100,
             "echo_rate": 1000, "echo_duration_s": 20.0, "handshakes": 2000, "handshake_concurrency": 50,
             "saturate_sockets": 200, "saturate_s": 5.0, "peers": ["uvicorn", "pubsub"]},
}
ALL_TARGETS = ("ceiling", "default", "direct", "uvicorn", "pubsub")


async def run_target(scenarios, target, params, results, direct=None):
    """Every scenario on one target; a scenario that raises is recorded as a failure and the
    next one still runs (the sets it left are closed)."""
    pool = params["idle_steps"][-1]
    slug = f"bench-{target.name}-pool"

    async def attempt(name, coroutine):
        try:
            return await coroutine
        except Exception as error:  # noqa: BLE001 - reported, the suite goes on
            results.append({"scenario": name, "target": target.name, "conditions": target.conditions,
                            "figures": {}, "problems": [f"scenario failed: {type(error).__name__}: {error}"],
                            "traceback": traceback.format_exc()})
            print(f"  {target.name} {name}: FAILED {type(error).__name__}: {error}", flush=True)
            stats = await scenarios.gen.stats()
            for set_name in stats["sets"]:
                await scenarios.gen.close(set_name)
            return None

    if target.name != "ceiling":
        await target.login()
    held = await attempt("idle", scenarios.idle(target, slug)) or 0
    if held:
        await attempt("storms", scenarios.storms(target, slug, pool))
    big = [size for size in params["broadcast_sizes"] if size == pool]
    if big and (await scenarios.gen.stats())["sets"].get("pool"):
        await attempt("broadcast", scenarios.broadcast(target, big, slug, pool))
    await scenarios.gen.close("pool")
    await attempt("broadcast", scenarios.broadcast(target, [s for s in params["broadcast_sizes"] if s != pool]))
    await attempt("echo", scenarios.echo(target))
    await attempt("http_push", scenarios.http_push(target))
    await attempt("handshake", scenarios.handshakes(target))
    if target.name == "ceiling":
        await attempt("loadgen_ceiling", scenarios.loadgen_ceiling(target, held))
    if direct is not None:
        # daphne direct against nginx: the scenarios nginx takes part in, without it.
        await attempt("broadcast", scenarios.broadcast(direct, [s for s in params["broadcast_sizes"] if s <= 1000]))
        await attempt("echo", scenarios.echo(direct))
        await attempt("http_push", scenarios.http_push(direct))
        await attempt("handshake", scenarios.handshakes(direct))


async def run_suite(profile_name, out_dir, targets=ALL_TARGETS, profile=None, command=None, params=None):
    """Run the suite; returns the results document (also written to out_dir)."""
    params = dict(params or PROFILES[profile_name])
    out = Path(out_dir)
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    raise_nofile()
    results = []
    started = time.monotonic()
    document = {
        "suite": {
            "profile": profile_name, "command": command or f"python -m bench.run --{profile_name}",
            "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "machine": machine(), "code": code_state(BENCH_DIR.parent), "parameters": params,
            "targets": list(targets),
            "py_spy": profile,
        },
        "targets": {},
        "results": results,
    }
    wanted = [t for t in ALL_TARGETS if t in targets]
    peers = [name for name in ("uvicorn", "pubsub") if name in wanted and name in params["peers"]]
    async with LoadGen(workers=params["workers"], sources=params["sources"], log_dir=logs) as gen:
        document["suite"]["loadgen"] = {"workers": gen.count, "sources_per_worker": gen.sources_each,
                                        "nofile_per_worker": gen.nofile, "pids": gen.pids}
        scenarios = Scenarios(gen, params, out, results.append, profile)
        if "ceiling" in wanted:
            print("ceiling: bare websockets server", flush=True)
            ceiling = Ceiling(logs)
            try:
                document["targets"]["ceiling"] = ceiling.conditions
                await run_target(scenarios, ceiling, params, results)
            finally:
                ceiling.stop()
        for name in [n for n in ("default", *peers) if n in wanted or (n == "default" and "direct" in wanted)]:
            print(f"{name}: local stack ({name} configuration)", flush=True)
            try:
                stack = Stack(name, logs)
            except Exception as error:  # noqa: BLE001 - recorded; the other targets still run
                results.append({"scenario": "start", "target": name, "conditions": {}, "figures": {},
                                "problems": [f"scenario failed: the stack did not start: {error}"[:2000]]})
                print(f"  {name}: FAILED to start: {str(error)[:500]}", flush=True)
                continue
            try:
                document["targets"][name] = {**stack.conditions, "commands": stack.server_commands()}
                direct = None
                if name == "default" and "direct" in wanted:
                    direct = Direct(stack)
                    document["targets"]["direct"] = direct.conditions
                await run_target(scenarios, stack, params, results, direct)
            finally:
                stack.stop()
    document["suite"]["duration_s"] = round(time.monotonic() - started, 1)
    report.write(document, out)
    return document


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="size", action="store_const", const="quick", help="1,000 sockets (default)")
    size.add_argument("--full", dest="size", action="store_const", const="full", help="10,000 sockets, every size")
    size.add_argument("--smoke", dest="size", action="store_const", const="smoke", help="tiny (the e2e test)")
    parser.add_argument("--out", help="output directory (default bench/results/<quick|full|smoke>)")
    parser.add_argument("--targets", default=",".join(ALL_TARGETS),
                        help=f"comma-separated subset of {','.join(ALL_TARGETS)}")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy record daphne-1 of the default stack during its largest broadcasts")
    parser.add_argument("--profile-format", choices=("flamegraph", "speedscope"), default="flamegraph")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any scenario had a problem")
    args = parser.parse_args(argv)
    name = args.size or "quick"
    out = Path(args.out) if args.out else BENCH_DIR / "results" / name
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = set(targets) - set(ALL_TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}")
    profile = {"format": args.profile_format, "target": "default"} if args.profile else None
    command = "python -m bench.run " + shlex.join(sys.argv[1:] if argv is None else argv)
    document = asyncio.run(run_suite(name, out, targets, profile, command.strip()))
    problems = [(r["scenario"], r["target"], p) for r in document["results"] for p in r["problems"]]
    print(report.summary_text(document))
    print(f"\nwritten: {out / 'results.json'}, {out / 'results.md'}, {out / report.LATENCY_PLOT}, "
          f"{out / report.RSS_PLOT}")
    failed = [p for p in problems if p[2].startswith("scenario failed")]
    if failed or (args.strict and problems):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
