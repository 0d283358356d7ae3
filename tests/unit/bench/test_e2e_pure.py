"""The pure parts of ``oms bench``: Zipf sampler, percentiles, the open-loop schedule,
the workload mix and the sustained verdict. No services, no wall clock."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest
from bench.e2e.stats import p99_growing, percentile, verdict
from bench.e2e.workload import Kind, Mix, Workload, ZipfSampler, due, schedule


def test_zipf_probabilities_sum_to_one_and_fall_with_rank() -> None:
    z = ZipfSampler(1000, 1.0)
    probs = [z.probability(k) for k in range(1000)]
    assert sum(probs) == pytest.approx(1.0)
    assert all(a > b for a, b in itertools.pairwise(probs))
    # s = 1: rank 0 is twice as likely as rank 1, ten times rank 9
    assert probs[0] / probs[1] == pytest.approx(2.0)
    assert probs[0] / probs[9] == pytest.approx(10.0)


def test_zipf_samples_follow_the_distribution() -> None:
    z = ZipfSampler(1000, 1.0, random.Random(42))
    n = 200_000
    counts = Counter(z.sample() for _ in range(n))
    assert set(counts) <= set(range(1000))
    for rank in (0, 1, 9, 99):
        expected = z.probability(rank) * n
        # 5 standard deviations of a binomial count
        sigma = (expected * (1 - z.probability(rank))) ** 0.5
        assert abs(counts[rank] - expected) < 5 * sigma, rank
    # the head is heavy: the top 10 skus take about 39% of picks for s=1, n=1000
    top10 = sum(counts[k] for k in range(10)) / n
    assert top10 == pytest.approx(sum(z.probability(k) for k in range(10)), abs=0.01)


def test_zipf_distinct_draws_unique_ranks() -> None:
    z = ZipfSampler(5, 1.2, random.Random(1))
    for _ in range(100):
        picked = z.distinct(5)
        assert sorted(picked) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError):
        z.distinct(6)


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    random.Random(3).shuffle(values)
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(values, 0) == 1
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 99) == 0.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 51) == 3.0
    with pytest.raises(ValueError):
        percentile(values, 101)


@pytest.mark.parametrize(
    ("rate", "seconds", "count"), [(100, 20, 2000), (250, 20, 5000), (333.3, 3, 1000), (0.5, 1, 0)]
)
def test_schedule_emits_rate_times_duration(rate: float, seconds: float, count: int) -> None:
    offsets = schedule(rate, seconds)
    assert len(offsets) == count
    assert all(0 <= t < seconds for t in offsets)
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(offsets)}
    assert gaps <= {round(1 / rate, 9)}


def test_due_catches_up_without_skipping() -> None:
    offsets = schedule(100, 1)  # 0.00, 0.01, ... 0.99
    assert due(offsets, 0, -0.001) == 0
    assert due(offsets, 0, 0.0) == 1
    assert due(offsets, 1, 0.0) == 0
    assert due(offsets, 1, 0.0505) == 5  # 0.01..0.05 are due
    assert due(offsets, 0, 5.0) == 100  # a stalled sender owes every send
    assert due(offsets, 100, 5.0) == 0
    # a simulated sender that wakes at arbitrary instants still sends exactly the count
    sent, clock = 0, 0.0
    rng = random.Random(5)
    while clock < 1.2:
        sent += due(offsets, sent, clock)
        clock += rng.uniform(0.0, 0.05)
    assert sent == 100


def test_workload_mix_ratios_lines_and_determinism() -> None:
    mix = Mix(skus=1000, cancel_ratio=0.05, invalid_ratio=0.02, seed=11)
    a = list(Workload(mix, "t").take(20_000))
    b = list(Workload(mix, "t").take(20_000))
    assert [(d.kind, d.order.lines) for d in a[:200]] == [(d.kind, d.order.lines) for d in b[:200]]
    kinds = Counter(d.kind for d in a)
    assert kinds[Kind.CANCEL] / len(a) == pytest.approx(0.05, abs=0.006)
    invalid = kinds[Kind.UNDECODABLE] + kinds[Kind.INVALID]
    assert invalid / len(a) == pytest.approx(0.02, abs=0.004)
    assert kinds[Kind.UNDECODABLE] > 0 and kinds[Kind.INVALID] > 0
    lines = Counter(len(d.order.lines) for d in a)
    assert set(lines) == {1, 2, 3, 4, 5}
    assert lines[1] > lines[2] > lines[3] > lines[5]
    for d in a:
        skus = [line.sku for line in d.order.lines]
        assert len(set(skus)) == len(skus)
        bad = [line for line in d.order.lines if line.quantity < 1]
        assert bool(bad) == (d.kind is Kind.INVALID)
    assert Counter(d.channel for d in a).keys() == {"web", "tmall", "jd"}


def test_verdict_and_growing_p99() -> None:
    flat = [0.02] * 300
    growing = [0.02] * 100 + [0.05] * 100 + [0.5] * 100
    assert not p99_growing(flat)
    assert p99_growing(growing)
    assert verdict(500, 499, 100, 100, flat).sustained
    assert not verdict(500, 460, 100, 100, flat).sustained  # below 95% of offered
    assert not verdict(500, 500, 100, 99, flat).sustained  # one order never completed
    assert not verdict(500, 500, 300, 300, growing).sustained
