"""results.json -> results.md (tables, ratios, the issue's targets) and the PNG plots."""

import json
from pathlib import Path

from bench.stats import ratio

LATENCY_PLOT = "latency_by_group_size.png"
RSS_PLOT = "rss_by_sockets.png"
TARGET_ORDER = ("ceiling", "default", "direct", "uvicorn", "pubsub")
RSS_TARGET_KIB = 30


def key(record):
    """What makes two records comparable across targets."""
    c = record["conditions"]
    return {"broadcast": c.get("group_size"), "handshake": c.get("auth_kind")}.get(record["scenario"])


def find(results, scenario, target, match=None):
    for record in results:
        if record["scenario"] == scenario and record["target"] == target and record["figures"] \
                and (match is None or key(record) == match):
            return record
    return None


def fig(record, *path):
    value = record["figures"] if record else None
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value


# Headline figures per scenario: (label, path into figures, higher is better).
HEADLINES = {
    "idle": [("held", ("held",), True), ("RSS/socket KiB (max instance)", ("rss_per_socket_kib_max",), False)],
    "storm_disconnect": [("time s", ("time_s",), False), ("errors", ("errors",), False),
                         ("stale", ("stale_members",), False)],
    "storm_connect": [("time to everyone s", ("time_to_everyone_s",), False), ("errors", ("errors",), False),
                      ("never", ("never",), False), ("stale", ("stale_members",), False),
                      ("lost after", ("broadcast_after", "lost"), False)],
    "storm_reconnect": [("time to everyone s", ("time_to_everyone_s",), False), ("errors", ("errors",), False),
                        ("never", ("never",), False), ("stale", ("stale_members",), False),
                        ("lost after", ("broadcast_after", "lost"), False)],
    "broadcast": [("p50 ms", ("latency_ms", "p50"), False), ("p99 ms", ("latency_ms", "p99"), False),
                  ("deliveries/s", ("deliveries_per_second",), True), ("lost", ("lost",), False)],
    "echo": [("p50 ms", ("latency_ms", "p50"), False), ("p99 ms", ("latency_ms", "p99"), False),
             ("lost", ("lost",), False)],
    "http_push": [("p50 ms", ("latency_ms", "p50"), False), ("p99 ms", ("latency_ms", "p99"), False),
                  ("lost", ("lost",), False)],
    "handshake": [("per s", ("per_second",), True), ("p50 ms", ("handshake_ms", "p50"), False),
                  ("p99 ms", ("handshake_ms", "p99"), False)],
    "loadgen_ceiling": [("sockets held", ("sockets_held",), True),
                        ("echo round trips/s (closed loop)", ("echo_round_trips_per_second",), True)],
}
# The figure whose ratio each table shows (to the ceiling and to the default configuration).
RATIO_FIGURE = {"idle": ("rss_per_socket_kib_max",), "storm_connect": ("time_to_everyone_s",),
                "storm_reconnect": ("time_to_everyone_s",), "storm_disconnect": ("time_s",),
                "broadcast": ("latency_ms", "p99"), "echo": ("latency_ms", "p99"),
                "http_push": ("latency_ms", "p99"), "handshake": ("per_second",)}


def with_ratios(document):
    """Each record gets "ratios": {"to_ceiling", "to_default"} of its RATIO_FIGURE."""
    results = document["results"]
    for record in results:
        path = RATIO_FIGURE.get(record["scenario"])
        if not path or not record["figures"]:
            continue
        mine = fig(record, *path)
        ratios = {"figure": ".".join(path)}
        for name, other in (("to_ceiling", "ceiling"), ("to_default", "default")):
            if record["target"] not in (other, "ceiling"):
                ratios[name] = ratio(mine, fig(find(results, record["scenario"], other, key(record)), *path))
        record["ratios"] = ratios
    return document


def targets_check(document):
    """The issue's targets as ratios: (target, measured, goal, ratio, verdict)."""
    results = document["results"]
    rows = []

    def verdict(value, goal, lower_is_better=True):
        if value is None:
            return "not measured"
        if (value <= goal) if lower_is_better else (value >= goal):
            return "met"
        if goal == 0:
            return f"missed by {value}"
        return f"missed by {value / goal:.2f}x" if lower_is_better else f"missed: {value / goal:.2f} of the goal"

    idle = find(results, "idle", "default")
    sockets = document["suite"]["parameters"]["idle_steps"][-1]
    held = fig(idle, "held")
    rows.append((f"{sockets:,} concurrent sockets held through nginx", held, sockets, ratio(held, sockets),
                 verdict(held, sockets, lower_is_better=False)))
    per_socket = fig(idle, "rss_per_socket_kib_max")
    rows.append(("RSS per socket per daphne <= 30 KiB", per_socket, RSS_TARGET_KIB, ratio(per_socket, RSS_TARGET_KIB),
                 verdict(per_socket, RSS_TARGET_KIB)))
    for scenario in ("storm_disconnect", "storm_connect", "storm_reconnect"):
        record = find(results, scenario, "default")
        errors, stale = fig(record, "errors"), fig(record, "stale_members")
        rows.append((f"{scenario}: errors = 0", errors, 0, None, verdict(errors, 0)))
        rows.append((f"{scenario}: stale group members = 0", stale, 0, None, verdict(stale, 0)))
        if scenario != "storm_disconnect":
            what = "connect" if scenario == "storm_connect" else "reconnect"
            rows.append((f"{scenario}: time to {what} everyone (s)", fig(record, "time_to_everyone_s"), None,
                         None, "reported"))
    for size in sorted({r["conditions"]["group_size"] for r in results if r["scenario"] == "broadcast"}):
        mine = fig(find(results, "broadcast", "default", size), "latency_ms", "p99")
        ceiling = fig(find(results, "broadcast", "ceiling", size), "latency_ms", "p99")
        r = ratio(mine, ceiling)
        goal = "<= 2x the ceiling" if size == 1000 else "reported"
        rows.append((f"broadcast to {size:,} across the instances: p99 / ceiling p99", r, 2 if size == 1000 else None,
                     r, verdict(r, 2) if size == 1000 else goal))
    mine = fig(find(results, "echo", "default"), "latency_ms", "p99")
    ceiling = fig(find(results, "echo", "ceiling"), "latency_ms", "p99")
    r = ratio(mine, ceiling)
    rows.append(("echo p99 / ceiling p99 at the same offered rate", r, 2, r, verdict(r, 2)))
    lost = 0
    for record in results:
        figures = record["figures"]
        if record["scenario"] in ("broadcast", "http_push"):
            lost += figures.get("lost") or 0
        if record["scenario"].startswith("storm_") and figures.get("broadcast_after"):
            lost += figures["broadcast_after"].get("lost") or 0
    rows.append(("broadcast deliveries lost, every scenario and target", lost, 0, None, verdict(lost, 0)))
    return rows


def loadgen_ceiling(document):
    """What the load generator reached against the bare server: (label, value) pairs."""
    results = document["results"]
    rows = []
    idle = find(results, "idle", "ceiling")
    rows.append(("sockets held (idle, bare server)", fig(idle, "held")))
    storm = find(results, "storm_connect", "ceiling")
    if storm and fig(storm, "time_to_everyone_s"):
        rows.append(("connects/s, everyone at once (connect storm on the bare server)",
                     round(fig(storm, "connected") / fig(storm, "time_to_everyone_s"), 1)))
    rates = [fig(r, "per_second") for r in results if r["scenario"] == "handshake" and r["target"] == "ceiling"]
    if rates:
        rows.append(("handshake cycles/s, best auth kind (bare server)", max(r for r in rates if r is not None)))
    saturate = find(results, "loadgen_ceiling", "ceiling")
    rows.append(("echo round trips/s, closed loop (bare server)", fig(saturate, "echo_round_trips_per_second")))
    broadcasts = [r for r in results if r["scenario"] == "broadcast" and r["target"] == "ceiling" and r["figures"]]
    if broadcasts:
        largest = max(broadcasts, key=lambda r: r["conditions"]["group_size"])
        rows.append((f"deliveries/s received, broadcast to {largest['conditions']['group_size']:,} (bare server)",
                     fig(largest, "deliveries_per_second")))
    busiest = max((r["conditions"].get("cpu_percent", {}).get("loadgen", 0), r["scenario"], r["target"])
                  for r in results if r["conditions"].get("cpu_percent")) if results else None
    if busiest:
        rows.append((f"load generator's busiest scenario, % of one core ({busiest[1]} / {busiest[2]}; "
                     f"{document['suite']['machine']['nproc']} cores in all)", busiest[0]))
    return rows


def _fmt(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) or "-"
    return str(value)


def _targets_of(results):
    present = {r["target"] for r in results}
    return [t for t in TARGET_ORDER if t in present]


def markdown(document):
    suite, results = document["suite"], document["results"]
    m = suite["machine"]
    lines = [
        f"# Benchmark results ({suite['profile']})", "",
        f"Command: `{suite['command']}` (started {suite['started']}, {suite.get('duration_s', '?')} s)"
        + (f" at commit {suite['code']['commit']}" if suite.get("code", {}).get("commit") else "")
        + (f", uncommitted: {', '.join(suite['code']['uncommitted'])}" if suite.get("code", {}).get("uncommitted")
           else "") + ".", "",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB RAM, Linux {m['kernel']}, "
        f"{m['os'] or ''}, Python {m['python']}; nofile hard limit {m['nofile_hard_limit']} per process; "
        + ", ".join(f"{k} {v}" for k, v in m["sysctl"].items()) + ".", "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v) + ".", "",
        f"Load generator: {suite['loadgen']['workers']} processes x {suite['loadgen']['sources_per_worker']} "
        f"source addresses, on the same machine as everything it measures.", "",
        "Targets: " + "; ".join(f"**{name}**: {_describe(conditions)}" for name, conditions in
                                 document["targets"].items()) + ".", "",
        "## The issue's targets", "",
        "| target | measured | goal | ratio | verdict |", "|---|---|---|---|---|",
    ]
    for row in targets_check(document):
        lines.append("| " + " | ".join(_fmt(v) for v in row) + " |")
    lines += ["", "## The load generator's own ceiling", "",
              "What the same load generator reached against the bare server on this machine: a figure of the app "
              "close to these is limited by the load generator, not by the app.", "",
              "| figure | value |", "|---|---|"]
    lines += [f"| {label} | {_fmt(value)} |" for label, value in loadgen_ceiling(document)]
    for scenario, headlines in HEADLINES.items():
        records = [r for r in results if r["scenario"] == scenario and r["figures"]]
        if not records:
            continue
        ratio_path = RATIO_FIGURE.get(scenario)
        lines += ["", f"## {scenario}", "", _scenario_note(scenario, records[0]), ""]
        head = ["target", *([k for k in ("group size", "auth") if _key_label(scenario) == k]),
                *[label for label, _, _ in headlines]]
        if ratio_path:
            head += [f"{'.'.join(ratio_path)} / ceiling", f"{'.'.join(ratio_path)} / default"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for record in sorted(records, key=lambda r: (str(key(r)) if key(r) is not None else "",
                                                     TARGET_ORDER.index(r["target"]))):
            row = [record["target"]]
            if _key_label(scenario):
                row.append(key(record))
            row += [fig(record, *path) for _, path, _ in headlines]
            if ratio_path:
                row += [record.get("ratios", {}).get("to_ceiling"), record.get("ratios", {}).get("to_default")]
            lines.append("| " + " | ".join(_fmt(v) for v in row) + " |")
    idle = [r for r in results if r["scenario"] == "idle" and r["figures"]]
    if idle:
        lines += ["", "### RSS by step (KiB per server process)", "",
                  "| target | sockets | per instance | RSS | nginx | redis | load generator |",
                  "|---|---|---|---|---|---|---|"]
        for record in idle:
            for step in record["figures"]["steps"]:
                lines.append(f"| {record['target']} | {_fmt(step['sockets'])} | {_fmt(step['per_instance'])} | "
                             f"{_fmt(step['rss_kib'])} | {_fmt(step['nginx_rss_kib'])} | "
                             f"{_fmt(step['redis_rss_kib'])} | {_fmt(step['loadgen_rss_kib'])} |")
    cpu = [r for r in results if r["conditions"].get("cpu_percent")]
    if cpu:
        lines += ["", "## CPU while each scenario ran (% of one core)", "",
                  "| scenario | target | key | elapsed s | CPU % |", "|---|---|---|---|---|"]
        for record in cpu:
            c = record["conditions"]
            lines.append(f"| {record['scenario']} | {record['target']} | {_fmt(key(record))} | "
                         f"{_fmt(c.get('elapsed_s'))} | {_fmt(c['cpu_percent'])} |")
    logged = [r for r in results if r["figures"].get("logs")]
    if logged:
        lines += ["", "## What the servers logged during the scenarios", "",
                  "| scenario | target | key | logged |", "|---|---|---|---|"]
        for record in logged:
            lines.append(f"| {record['scenario']} | {record['target']} | {_fmt(key(record))} | "
                         f"{_fmt_logs(record['figures']['logs'])} |")
    problems = [(r["scenario"], r["target"], key(r), p) for r in results for p in r["problems"]]
    lines += ["", "## Problems (errors, losses, stale members: each should be zero)", ""]
    lines += [f"- {s} / {t}{f' / {k}' if k is not None else ''}: {p}" for s, t, k, p in problems] or ["- none"]
    lines += ["", f"Plots: [{LATENCY_PLOT}]({LATENCY_PLOT}), [{RSS_PLOT}]({RSS_PLOT}). "
              "Every figure with its conditions: [results.json](results.json).", ""]
    return "\n".join(lines)


def _fmt_logs(logs):
    parts = []
    for kind, counts in logs.items():
        parts.append(f"{kind}: " + ", ".join(f"{k} x{v}" for k, v in counts.items()))
    return "; ".join(parts).replace("|", "/")


def _key_label(scenario):
    return {"broadcast": "group size", "handshake": "auth"}.get(scenario)


def _describe(c):
    return f"{c['server']}, {c['instances']} instance(s), proxy {c['proxy']}, layer {c['layer']}"


def _scenario_note(scenario, record):
    c = record["conditions"]
    notes = {
        "idle": f"{_fmt(c.get('sockets'))} sockets on {c.get('route')}, opened {c.get('open_concurrency')} at a time, "
                f"held {c.get('hold_s')} s. RSS per socket = (RSS at the last step - RSS before) / sockets on "
                "that instance.",
        "storm_disconnect": f"{_fmt(c.get('sockets'))} sockets close at once; stale = group members left in Redis "
                            f"after up to {c.get('stale_wait_s')} s (the core layer's sorted-set entries; for the "
                            "pubsub layer, subscriptions of the group's channel).",
        "storm_connect": f"{_fmt(c.get('sockets'))} sockets connect at once; a failed attempt is retried "
                         f"({c.get('retry')}), errors count every failed attempt; then one broadcast to all.",
        "storm_reconnect": f"{_fmt(c.get('sockets'))} sockets each close and connect again at once; then one "
                           "broadcast to all.",
        "broadcast": f"{c.get('trigger')}; latency: {c.get('latency')}. deliveries/s = members / time to the last "
                     "member (median over the broadcasts).",
        "echo": f"{_fmt(c.get('offered_per_second'))} messages/s offered for {c.get('duration_s')} s over "
                f"{c.get('sockets')} sockets ({c.get('schedule')}).",
        "http_push": f"{c.get('pushes')} pushes to one member; latency: {c.get('latency')}.",
        "handshake": f"{_fmt(c.get('handshakes'))} handshakes, {c.get('concurrency')} in flight; "
                     f"cycle: {c.get('cycle')}.",
        "loadgen_ceiling": "The load generator against the bare server: its own ceiling on this machine.",
    }
    return notes.get(scenario, "")


def plots(document, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = document["results"]
    figure, axes = plt.subplots(figsize=(8, 5))
    for target in _targets_of(results):
        records = sorted((r for r in results if r["scenario"] == "broadcast" and r["target"] == target
                          and r["figures"].get("latency_ms", {}).get("p50") is not None),
                         key=lambda r: r["conditions"]["group_size"])
        if not records:
            continue
        sizes = [r["conditions"]["group_size"] for r in records]
        line, = axes.plot(sizes, [r["figures"]["latency_ms"]["p50"] for r in records], marker="o",
                          label=f"{target} p50")
        axes.plot(sizes, [r["figures"]["latency_ms"]["p99"] for r in records], marker="^", linestyle="--",
                  color=line.get_color(), label=f"{target} p99")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("group size (members)")
    axes.set_ylabel("delivery latency (ms)")
    axes.set_title("Broadcast delivery latency by group size")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small", ncol=2)
    figure.tight_layout()
    figure.savefig(Path(out) / LATENCY_PLOT, dpi=100)
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(8, 5))
    target_base = None
    for record in (r for r in results if r["scenario"] == "idle" and r["figures"].get("steps")):
        steps = record["figures"]["steps"]
        base = record["figures"]["rss_base_kib"]
        for name in sorted(base):
            xs = [0] + [step["per_instance"].get(name, 0) for step in steps]
            ys = [base[name] / 1024] + [(step["rss_kib"].get(name) or 0) / 1024 for step in steps]
            label = record["target"] if name == record["target"] else f"{record['target']} {name}"
            axes.plot(xs, ys, marker="o", label=label)
            if record["target"] == "default" and target_base is None:
                target_base = base[name] / 1024
    if axes.lines:
        top = max(max(line.get_xdata()) for line in axes.lines)
        start = target_base or 0
        axes.plot([0, top], [start, start + top * RSS_TARGET_KIB / 1024], color="grey", linestyle=":",
                  label=f"{RSS_TARGET_KIB} KiB per socket from default's start (the target)")
    axes.set_xlabel("sockets held by the process")
    axes.set_ylabel("RSS (MiB)")
    axes.set_title("Server RSS against sockets held (one line per server process)")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(Path(out) / RSS_PLOT, dpi=100)
    plt.close(figure)


def summary_text(document):
    lines = ["", "The issue's targets:"]
    for name, measured, goal, _ratio, verdict in targets_check(document):
        lines.append(f"  {name}: {_fmt(measured)} (goal {_fmt(goal)}; {verdict})")
    lines.append("The load generator's own ceiling:")
    lines += [f"  {label}: {_fmt(value)}" for label, value in loadgen_ceiling(document)]
    problems = [(r["scenario"], r["target"], key(r), p) for r in document["results"] for p in r["problems"]]
    lines.append(f"problems: {len(problems)}")
    lines += [f"  {s} / {t}{f' / {k}' if k is not None else ''}: {p}" for s, t, k, p in problems]
    return "\n".join(lines)


def write(document, out):
    out = Path(out)
    with_ratios(document)
    document["targets_check"] = [dict(zip(("target", "measured", "goal", "ratio", "verdict"), row, strict=True))
                                 for row in targets_check(document)]
    (out / "results.json").write_text(json.dumps(document, indent=1, default=str) + "\n")
    (out / "results.md").write_text(markdown(document))
    plots(document, out)
