"""Splitting an order (拆单): it ships in parts, by location or by availability.

By location an order already ships in parts: one shipment per location its lines are
reserved at. By availability it ships what the stock allows now and backorders the
rest: a line short of units is cut in two (the units in stock, and the units short,
each with its share of the line's discount, so the net adds up to the fen), and the
short part waits as a backorder that allocates when stock arrives. Pure rules: the
order service records the plan as events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from oms_events.domain.errors import DomainError
from oms_events.domain.line import OrderLine
from oms_events.domain.money import Money


class SplitRefused(DomainError):
    """An order that cannot be split as asked."""

    code = "order.split_refused"
    message_en = "Split refused: {detail}."
    message_zh = "拆单被拒绝：{detail}。"


@dataclass(frozen=True, slots=True)
class Part:
    """Some units of one order line, with their share of the line's discount."""

    line_no: int
    sku: str
    quantity: int
    unit_price: Money
    discount: Money

    @property
    def net(self) -> Money:
        """What the customer pays for these units."""
        return self.unit_price * self.quantity - self.discount


@dataclass(frozen=True, slots=True)
class SplitPlan:
    """What ships now and what is backordered; a line may be in both (cut in two)."""

    ship_now: tuple[Part, ...]
    backorder: tuple[Part, ...]

    @property
    def cut_lines(self) -> frozenset[int]:
        """Lines that are in both parts: the order records each as two lines."""
        return frozenset(p.line_no for p in self.ship_now) & frozenset(
            p.line_no for p in self.backorder
        )


def _cut(line: OrderLine, now: int) -> tuple[Part | None, Part | None]:
    """``line`` as (the first ``now`` units, the rest); the discount shared by units,
    exactly (largest remainder: no fen made or lost)."""
    later = line.quantity - now
    if later == 0:
        return Part(line.line_no, line.sku, now, line.unit_price, line.discount), None
    if now == 0:
        return None, Part(line.line_no, line.sku, later, line.unit_price, line.discount)
    d_now, d_later = line.discount.allocate([now, later])
    return (
        Part(line.line_no, line.sku, now, line.unit_price, d_now),
        Part(line.line_no, line.sku, later, line.unit_price, d_later),
    )


def split_by_availability(
    lines: Sequence[OrderLine], available: Mapping[str, int], reserved: Collection[int] = ()
) -> SplitPlan:
    """Ship what ``available`` (units per SKU, all locations) covers now, the rest is
    backordered; lines take the stock of their SKU in line order, the ``reserved`` lines
    (holding their stock already: the engine counts it in ``available``) first, so a
    reserved line is never cut. Refused when nothing can ship now (the order simply
    waits) or everything can (nothing to split)."""
    left: dict[str, int] = defaultdict(int, {sku: max(0, n) for sku, n in available.items()})
    ship_now: list[Part] = []
    backorder: list[Part] = []
    held = frozenset(reserved)
    for line in sorted(lines, key=lambda ln: (ln.line_no not in held, ln.line_no)):
        now = min(line.quantity, left[line.sku])
        left[line.sku] -= now
        first, rest = _cut(line, now)
        if first is not None:
            ship_now.append(first)
        if rest is not None:
            backorder.append(rest)
    ship_now.sort(key=lambda p: p.line_no)
    backorder.sort(key=lambda p: p.line_no)
    if not ship_now:
        raise SplitRefused(detail="nothing is in stock now; the order waits as it is")
    if not backorder:
        raise SplitRefused(detail="everything is in stock; the order ships whole")
    return SplitPlan(tuple(ship_now), tuple(backorder))


def fill_backorder(
    backorder: Sequence[Part], arrived: Mapping[str, int]
) -> tuple[tuple[Part, ...], tuple[Part, ...]]:
    """Stock ``arrived`` (units per SKU) for a backorder: (parts that ship now, parts
    still short), cut as ``split_by_availability`` cuts."""
    left: dict[str, int] = defaultdict(int, {sku: max(0, n) for sku, n in arrived.items()})
    ships: list[Part] = []
    waits: list[Part] = []
    for part in backorder:
        now = min(part.quantity, left[part.sku])
        left[part.sku] -= now
        line = OrderLine(part.line_no, part.sku, part.quantity, part.unit_price, part.discount)
        first, rest = _cut(line, now)
        if first is not None:
            ships.append(first)
        if rest is not None:
            waits.append(rest)
    return tuple(ships), tuple(waits)


def split_by_location(
    lines: Sequence[OrderLine], locations: Mapping[int, str]
) -> dict[str, tuple[Part, ...]]:
    """The order's parts by the location each line is reserved at (one shipment each);
    refused when a line has no location yet."""
    parts: dict[str, list[Part]] = defaultdict(list)
    for line in sorted(lines, key=lambda ln: ln.line_no):
        location = locations.get(line.line_no)
        if not location:
            raise SplitRefused(detail=f"line {line.line_no} is not reserved at a location yet")
        parts[location].append(
            Part(line.line_no, line.sku, line.quantity, line.unit_price, line.discount)
        )
    return {loc: tuple(p) for loc, p in sorted(parts.items())}
