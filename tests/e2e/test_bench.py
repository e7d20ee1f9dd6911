"""Smoke test of the benchmark suite (bench/run.py) at tiny sizes: every scenario against every
target (the bare websockets ceiling, the stack through nginx, its daphnes directly, the uvicorn
and pubsub peers) runs, writes well-formed results, and loses nothing. Times are not judged;
an error, a lost broadcast, a stale group member or a scenario that raises fails it."""

import json
import math

from bench import report
from bench.run import PROFILES, run_suite

from .conftest import require_stack_tools

STACK_SCENARIOS = {"idle", "storm_disconnect", "storm_connect", "storm_reconnect", "broadcast", "echo", "http_push",
                   "handshake"}
EXPECTED = {
    "ceiling": STACK_SCENARIOS | {"loadgen_ceiling"},
    "default": STACK_SCENARIOS,
    "uvicorn": STACK_SCENARIOS,
    "pubsub": STACK_SCENARIOS,
    "direct": {"broadcast", "echo", "http_push", "handshake"},
}
PNG = b"\x89PNG\r\n\x1a\n"


async def test_the_suite_runs_every_scenario_and_loses_nothing(tmp_path):
    require_stack_tools()
    params = PROFILES["smoke"]
    document = await run_suite("smoke", tmp_path)

    problems = [f"{r['scenario']} / {r['target']}: {p}" for r in document["results"] for p in r["problems"]]
    assert not problems, "\n".join(problems)

    written = json.loads((tmp_path / "results.json").read_text())
    assert written["suite"]["machine"]["nproc"] >= 1
    assert written["suite"]["parameters"]["idle_steps"] == params["idle_steps"]
    assert set(written["targets"]) == set(EXPECTED)
    results = written["results"]
    for target, scenarios in EXPECTED.items():
        found = {r["scenario"] for r in results if r["target"] == target}
        assert found == scenarios, f"{target}: missing {scenarios - found}, unexpected {found - scenarios}"
        for record in (r for r in results if r["target"] == target):
            assert record["conditions"]["proxy"] and record["figures"], record

    for record in results:
        figures, scenario = record["figures"], record["scenario"]
        if scenario == "broadcast":
            assert figures["delivered"] == figures["expected"] == figures["members"] * figures["broadcasts"] > 0
            assert figures["latency_ms"]["n"] == figures["delivered"]
        if scenario in ("broadcast", "http_push", "echo"):
            assert figures["lost"] == 0 and figures["latency_ms"]["p99"] > 0, record
        if scenario == "echo":
            assert figures["received"] == figures["sent"] > 0
        if scenario == "handshake":
            assert figures["per_second"] > 0 and not figures["errors"], record
        if scenario.startswith("storm_"):
            assert figures["errors"] == 0, record
            if record["target"] != "ceiling":
                assert figures["stale_members"] == 0, record
        if scenario == "idle":
            assert figures["held"] == params["idle_steps"][-1]
            assert len(figures["steps"]) == len(params["idle_steps"])
            assert figures["rss_per_socket_kib"] and figures["rss_per_socket_kib_max"] is not None, record
        if record["target"] != "ceiling" and scenario in ("broadcast", "echo", "http_push", "handshake"):
            value = record["ratios"]["to_ceiling"]
            assert value is not None and math.isfinite(value) and value > 0, record

    check = {row["target"]: row for row in written["targets_check"]}
    assert check["broadcast deliveries lost, every scenario and target"]["measured"] == 0

    markdown = (tmp_path / "results.md").read_text()
    assert "## The issue's targets" in markdown
    for scenario in set().union(*EXPECTED.values()):
        assert f"## {scenario}\n" in markdown
    for plot in (report.LATENCY_PLOT, report.RSS_PLOT):
        data = (tmp_path / plot).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000, plot
