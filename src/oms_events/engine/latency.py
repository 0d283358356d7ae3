"""Latency figures: percentiles of a set of durations, by the nearest-rank method."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Latencies:
    """Durations in seconds; ``percentile(99)`` is the p99."""

    values: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        """Record one duration."""
        self.values.append(seconds)

    def percentile(self, p: float) -> float:
        """The smallest value with at least ``p`` percent of values at or below it (0 if none)."""
        if not self.values:
            return 0.0
        ordered = sorted(self.values)
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        return ordered[min(rank, len(ordered)) - 1]

    def __len__(self) -> int:
        return len(self.values)
