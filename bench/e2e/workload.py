"""The order mix and the open-loop schedule: pure, seeded, unit-tested.

One :class:`Workload` yields the same orders (skus, lines, channels, which ones are
cancelled, which ones are invalid) for the engine and for the baseline.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from uuid import UUID

from oms_events.domain.order import PaymentMethod
from oms_events.engine.commands import (
    AddressDetails,
    CancelOrder,
    CustomerDetails,
    LineDetails,
    PlaceOrder,
)

CHANNELS = ("web", "tmall", "jd")
LINE_WEIGHTS = (0.40, 0.25, 0.15, 0.12, 0.08)  # 1..5 lines per order, mean 2.2


class ZipfSampler:
    """Ranks 0..n-1 with P(rank k) proportional to 1 / (k + 1) ** s (inverse CDF)."""

    def __init__(self, n: int, s: float = 1.0, rng: random.Random | None = None) -> None:
        if n < 1:
            raise ValueError("n must be >= 1")
        self.n, self.s = n, s
        self.rng = rng or random.Random(0)
        weights = [1.0 / (k + 1) ** s for k in range(n)]
        total = math.fsum(weights)
        acc, cdf = 0.0, []
        for w in weights:
            acc += w / total
            cdf.append(acc)
        cdf[-1] = 1.0
        self.cdf: list[float] = cdf

    def probability(self, rank: int) -> float:
        """The exact probability of ``rank``."""
        return self.cdf[rank] - (self.cdf[rank - 1] if rank else 0.0)

    def sample(self) -> int:
        """One rank."""
        return bisect.bisect_left(self.cdf, self.rng.random())

    def distinct(self, k: int) -> list[int]:
        """``k`` distinct ranks (k <= n), each drawn by popularity."""
        if k > self.n:
            raise ValueError("k > n")
        seen: dict[int, None] = {}
        while len(seen) < k:
            seen.setdefault(self.sample(), None)
        return list(seen)


def schedule(rate: float, seconds: float) -> list[float]:
    """Open-loop send offsets (seconds from the stage start): ``round(rate * seconds)``
    sends, evenly spaced at ``1 / rate``, whatever the system answers."""
    if rate <= 0 or seconds <= 0:
        return []
    return [i / rate for i in range(round(rate * seconds))]


def due(offsets: Sequence[float], sent: int, elapsed: float) -> int:
    """How many more of ``offsets`` are due at ``elapsed`` when ``sent`` were sent
    (never negative; a late sender catches up at once instead of skipping)."""
    return max(0, bisect.bisect_right(offsets, elapsed) - sent)


class Kind(StrEnum):
    """What one generated delivery is."""

    ORDER = "order"  # a valid PlaceOrder, expected to be confirmed
    CANCEL = "cancel"  # a valid PlaceOrder, cancelled (CancelOrder) once confirmed
    UNDECODABLE = "undecodable"  # bytes that are not Avro: decode.error dead letter
    INVALID = "invalid"  # valid Avro, refused by a domain rule (quantity 0): dead letter


@dataclass(frozen=True)
class Delivery:
    """One PlaceOrder delivery of the mix."""

    n: int
    kind: Kind
    channel: str
    external_id: str
    order: PlaceOrder

    @property
    def valid(self) -> bool:
        """Expected to be placed and confirmed."""
        return self.kind in (Kind.ORDER, Kind.CANCEL)


@dataclass(frozen=True)
class Mix:
    """The shape of the workload."""

    skus: int = 1000
    locations: int = 3
    zipf_s: float = 1.0
    cancel_ratio: float = 0.05
    invalid_ratio: float = 0.02
    seed: int = 8
    lines: int = 0  # lines of every order; 0: 1..5 by LINE_WEIGHTS


class Workload:
    """Deterministic deliveries for one run (``run_id`` keeps runs apart)."""

    def __init__(self, mix: Mix, run_id: str) -> None:
        self.mix, self.run_id = mix, run_id
        self.rng = random.Random(mix.seed)
        self.zipf = ZipfSampler(mix.skus, mix.zipf_s, random.Random(mix.seed + 1))
        self.skus = [f"B{run_id}-{k:04d}" for k in range(mix.skus)]
        self.locations = [f"WH-{k:02d}" for k in range(mix.locations)]
        self.count = 0

    def lines(self) -> int:
        """Lines of the next order (1..5, or ``mix.lines`` of every order)."""
        if self.mix.lines:
            return self.mix.lines
        return self.rng.choices(range(1, len(LINE_WEIGHTS) + 1), LINE_WEIGHTS)[0]

    def kind(self) -> Kind:
        """Cancel, invalid (half undecodable, half refused) or an ordinary order."""
        x = self.rng.random()
        if x < self.mix.invalid_ratio:
            return Kind.UNDECODABLE if x < self.mix.invalid_ratio / 2 else Kind.INVALID
        if x < self.mix.invalid_ratio + self.mix.cancel_ratio:
            return Kind.CANCEL
        return Kind.ORDER

    def next(self) -> Delivery:
        """The next delivery."""
        n = self.count
        self.count += 1
        kind = self.kind()
        channel = CHANNELS[n % len(CHANNELS)]
        external = f"{self.run_id}-{n:08d}"
        skus = [self.skus[k] for k in self.zipf.distinct(self.lines())]
        order = place_order(n, channel, external, skus, [self.rng.randint(1, 3) for _ in skus])
        if kind is Kind.INVALID:
            lines = (replace(order.lines[0], quantity=0), *order.lines[1:])
            order = replace(order, lines=lines)
        return Delivery(n, kind, channel, external, order)

    def take(self, count: int) -> Iterator[Delivery]:
        """The next ``count`` deliveries."""
        for _ in range(count):
            yield self.next()


def place_order(
    n: int, channel: str, external: str, skus: Sequence[str], quantities: Sequence[int]
) -> PlaceOrder:
    """A PlaceOrder, paid at the channel."""
    return PlaceOrder(
        command_id=f"bench-place-{external}",
        order_no=f"B-{external}",
        channel=channel,
        external_id=external,
        customer=CustomerDetails(name="压测顾客", phone=f"139{n % 10**8:08d}"),
        address=AddressDetails(
            country="CN",
            province="浙江省",
            city="杭州市",
            district="西湖区",
            postcode="310000",
            line1=f"文三路 {n} 号",
        ),
        currency="CNY",
        lines=tuple(
            LineDetails(line_no=i + 1, sku=sku, quantity=q, unit_price=4900 + 100 * (i % 7))
            for i, (sku, q) in enumerate(zip(skus, quantities, strict=True))
        ),
        payment_method=PaymentMethod.ALIPAY,
        paid=True,
        placed_at=datetime.now(UTC),
    )


def cancel_order(order_id: UUID, external: str) -> CancelOrder:
    """A CancelOrder for a bench order."""
    return CancelOrder(
        command_id=f"bench-cancel-{external}",
        order_id=order_id,
        reason="customer changed their mind",
    )


UNDECODABLE = b"\x00\x00\x00\x00\x07not avro at all"
