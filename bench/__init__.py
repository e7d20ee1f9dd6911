"""Benchmarks: `make bench` (quick) and `make bench-full` (issue 11's suite), as ratios against
baselines measured in the same run. See bench/README.md."""
