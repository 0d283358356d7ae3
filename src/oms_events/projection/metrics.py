"""Counters of a running projection: events, batches, batch latency percentiles."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by nearest rank; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return ordered[rank]


@dataclass
class Metrics:
    """What one runner has done since it started."""

    events: int = 0
    skipped: int = 0  # records read but not handled (other events, after --as-of, undecodable)
    decode_errors: int = 0
    fold_errors: int = 0  # records the projection could not apply (dead-lettered)
    batches: int = 0
    conflicts: int = 0
    batch_seconds: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def record_batch(self, events: int, skipped: int, seconds: float) -> None:
        """Count one committed batch."""
        self.events += events
        self.skipped += skipped
        self.batches += 1
        # Bounded memory for long runs: keep the latest 10,000 latencies.
        if len(self.batch_seconds) >= 10_000:
            del self.batch_seconds[:5_000]
        self.batch_seconds.append(seconds)

    @property
    def rate(self) -> float:
        """Records per second since start (handled and skipped)."""
        elapsed = time.monotonic() - self.started
        return (self.events + self.skipped) / elapsed if elapsed > 0 else 0.0

    def p50(self) -> float:
        """Median batch latency, seconds."""
        return percentile(self.batch_seconds, 0.5)

    def p99(self) -> float:
        """99th percentile batch latency, seconds."""
        return percentile(self.batch_seconds, 0.99)
