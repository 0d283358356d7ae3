"""Percentiles and the "sustained" verdict of one stage: pure functions, unit-tested."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``p`` % of values at or
    below it; 0.0 for no values. ``p`` is in [0, 100]."""
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is outside [0, 100]")
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / p99 / max of durations in seconds, in milliseconds."""
    return {
        "p50_ms": percentile(values, 50) * 1000,
        "p95_ms": percentile(values, 95) * 1000,
        "p99_ms": percentile(values, 99) * 1000,
        "max_ms": max(values, default=0.0) * 1000,
        "count": float(len(values)),
    }


@dataclass(frozen=True)
class Verdict:
    """Whether a stage was sustained, and why not."""

    sustained: bool
    reason: str


def p99_growing(latencies_in_order: Sequence[float], slack_s: float = 0.05) -> bool:
    """True when the p99 of the last third of a stage (in completion order) exceeds
    1.5x the p99 of its first third plus ``slack_s``: a queue building up."""
    n = len(latencies_in_order)
    if n < 30:
        return False
    third = n // 3
    first = percentile(latencies_in_order[:third], 99)
    last = percentile(latencies_in_order[-third:], 99)
    return last > 1.5 * first + slack_s


def verdict(
    offered_per_s: float,
    completed_per_s: float,
    expected: int,
    completed: int,
    latencies_in_order: Sequence[float],
    tolerance: float = 0.05,
) -> Verdict:
    """Sustained = every expected order completed, completed throughput within
    ``tolerance`` of offered, and the p99 not growing over the stage."""
    if completed < expected:
        return Verdict(False, f"{expected - completed} of {expected} orders not completed")
    if completed_per_s < (1 - tolerance) * offered_per_s:
        return Verdict(False, f"completed {completed_per_s:.0f}/s < {1 - tolerance:.0%} of offered")
    if p99_growing(latencies_in_order):
        return Verdict(False, "p99 growing over the stage")
    return Verdict(True, "ok")
