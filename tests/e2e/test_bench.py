"""Smoke test of bench/ws_through_nginx.py on the e2e stack: a few rounds, so the benchmark
keeps working; the numbers themselves are not judged here."""

import math

from bench import ws_through_nginx as bench


async def test_benchmark_measures_both_paths(stack):
    ratios = await bench.measure(stack, rounds=3)
    assert set(ratios) == {"handshake", "echo round trip"}
    assert all(math.isfinite(ratio) and ratio > 0 for ratio in ratios.values())
