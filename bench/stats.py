"""Percentiles and small summaries, in milliseconds where they are times."""

import math


def percentile(sorted_values, fraction):
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def summary_ms(seconds):
    """{n, p50, p90, p99, max, mean} in ms of a list of durations in seconds."""
    values = sorted(seconds)
    if not values:
        return {"n": 0, "p50": None, "p90": None, "p99": None, "max": None, "mean": None}

    def ms(value):
        return round(value * 1000, 3)

    return {
        "n": len(values),
        "p50": ms(percentile(values, 0.50)),
        "p90": ms(percentile(values, 0.90)),
        "p99": ms(percentile(values, 0.99)),
        "max": ms(values[-1]),
        "mean": ms(sum(values) / len(values)),
    }


def ratio(value, baseline):
    """value / baseline rounded, None when either is missing or the baseline is 0."""
    if value is None or baseline in (None, 0):
        return None
    return round(value / baseline, 3)


def merge_counts(counters):
    total = {}
    for counts in counters:
        for key, value in (counts or {}).items():
            total[key] = total.get(key, 0) + value
    return dict(sorted(total.items()))
