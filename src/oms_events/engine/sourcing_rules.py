"""The order saga's side of rule-based sourcing: an Order as the plan sees it, and the
location of one line by the plan (``oms_events.fulfilment.sourcing_plan``).

Apart from ``order_saga`` so the saga keeps one call per decision. A drop-ship
supplier is a stock location named by its id (its feed books its stock there), so a
line it takes is reserved like any other; ``allocation`` turns its allocation into a
purchase order on ``oms.dropship``.
"""

from __future__ import annotations

from collections.abc import Iterable

from oms_events.domain.order import Order
from oms_events.fulfilment.rules import Rules
from oms_events.fulfilment.sourcing_plan import (
    MOST_STOCK,
    Line,
    SourcingOrder,
    Stock,
    explain,
    plan,
)

PICKUP_TENDER = "pay_at_pickup"  # 自提: the buyer collects (and pays) at a store


def sourcing_order(order: Order) -> SourcingOrder:
    """What the plan needs of ``order``: channel, ship-to, unreserved lines, pickup."""
    return SourcingOrder(
        channel=order.channel,
        province=order.address.province,
        city=order.address.city,
        lines=tuple(
            Line(n, line.sku, line.quantity)
            for n, line in sorted(order.lines.items())
            if n not in order.reservations
        ),
        pickup=any(t.method == PICKUP_TENDER for t in order.tenders),
    )


def choose_line(
    order: Order,
    line_no: int,
    stock: Stock,
    rules: Rules,
    tried: Iterable[str],
    serving: Iterable[str],
) -> str | None:
    """The location to ask for line ``line_no``: its place in the plan of every
    unreserved line (so the order still ships from as few locations as it can), or
    None when the rules leave it no location."""
    planned = plan(sourcing_order(order), stock, rules, prefer=serving, exclude={line_no: tried})
    supplier = next((d.supplier for d in planned.dropship if d.line_no == line_no), None)
    if supplier is not None:
        return supplier
    chosen = planned.location_of(line_no)
    return None if chosen is None else chosen.location


def rule_of(order: Order, location: str, rules: Rules | None) -> str:
    """The rule recorded on an allocation from ``location`` (``most_stock`` without a
    rules file: today's rule)."""
    return MOST_STOCK if rules is None else explain(sourcing_order(order), location, rules)
