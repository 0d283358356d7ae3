"""The figures of a what-if: the live history and the fork, side by side, per
channel and ship-to region. Pure.

Both sides are priced and measured by the what-if's rules file, so a difference is
the rules' doing, never a difference in the yardstick:

* a shipment is one location of an order's allocation; its cost is the location's
  ``cost`` plus the cheapest ``[[carriers]]`` rule that takes it (base price of the
  destination region; weight is not modelled);
* its distance is the kilometres between the capitals of the location's and the
  ship-to province (``fulfilment.geography``); a location the file does not place
  counts no kilometres;
* its transit is estimated from region hops as carriers quote them (same region next
  day, neighbouring regions two days, farther three, unknown four); an order misses
  its promised date when its slowest shipment takes longer than its delivery speed
  promises (``consumers.promises``), or when it still waits for stock (backorder).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from consumers.promises import PROMISES

from oms_events.fulfilment import carriers, geography
from oms_events.fulfilment.regions import distance, region_of
from oms_events.fulfilment.rules import Rules
from oms_events.whatif.outcomes import OrderOutcome

# (metric, English label, 中文) in table order.
METRICS: tuple[tuple[str, str, str], ...] = (
    ("orders", "orders", "订单"),
    ("confirmed", "confirmed", "已确认"),
    ("rejected", "rejected", "已拒绝"),
    ("cancelled", "cancelled", "已取消"),
    ("backorders", "backordered", "缺货待补"),
    ("shipments", "shipments", "包裹数"),
    ("split_orders", "split orders", "拆单"),
    ("shipping_cost", "shipping cost (CNY)", "运费（元）"),
    ("distance_km", "distance (km)", "距离（公里）"),
    ("promise_misses", "promised-date misses", "未按承诺送达"),
)
NAMES = tuple(m for m, _, _ in METRICS)
TRANSIT_DAYS = {0: 1, 1: 1, 2: 2, 3: 3}  # region hops -> days; farther or unknown: 4
UNKNOWN_REGION = "?"

Figures = dict[str, float]


def transit_days(location_province: str | None, ship_to: str | None) -> int:
    """Days a parcel takes, estimated from region hops between the two provinces."""
    return TRANSIT_DAYS.get(distance(location_province, ship_to), 4)


def promised_days(speed: str) -> float:
    """Days the delivery speed promises from placement."""
    _, _, deliver = PROMISES.get(speed, PROMISES["standard"])
    return deliver.total_seconds() / 86400


def shipment_cost(location: str, ship_to: str | None, rules: Rules) -> float:
    """A shipment's cost: the location's per-shipment cost plus the cheapest carrier."""
    entry = rules.location_of(location)
    cost = 0.0 if entry is None else entry.cost
    if rules.carriers:
        parcel = carriers.ParcelFacts(location, "standard", ship_to, 0, 0, False)
        chosen = carriers.choose(parcel, rules.carriers)
        cost += 0.0 if chosen is None else chosen.cost
    return cost


def figures(outcome: OrderOutcome, rules: Rules) -> Figures:
    """One order's contribution to every metric."""
    f: Figures = dict.fromkeys(NAMES, 0.0)
    f["orders"] = 1
    if outcome.status in ("confirmed", "rejected", "cancelled"):
        f[outcome.status] = 1
    f["backorders"] = 1 if outcome.backordered or outcome.status == "backorder" else 0
    slowest = 0
    for location in outcome.locations:
        entry = rules.location_of(location)
        province = None if entry is None else entry.province
        f["shipments"] += 1
        f["shipping_cost"] += shipment_cost(location, outcome.province, rules)
        f["distance_km"] += geography.km(province, outcome.province) or 0
        slowest = max(slowest, transit_days(province, outcome.province))
    f["split_orders"] = 1 if len(outcome.locations) > 1 else 0
    late = outcome.locations and slowest > promised_days(outcome.speed)
    f["promise_misses"] = 1 if late or outcome.status == "backorder" else 0
    return f


def _add(into: Figures, more: Mapping[str, float]) -> None:
    for name in NAMES:
        into[name] = into.get(name, 0.0) + more.get(name, 0.0)


@dataclass(frozen=True)
class Side:
    """One side's figures: the total, per channel and per ship-to region."""

    total: Figures = field(default_factory=dict)
    channels: dict[str, Figures] = field(default_factory=dict)
    regions: dict[str, Figures] = field(default_factory=dict)
    stock_outs: int = 0


def side(outcomes: Iterable[OrderOutcome], rules: Rules, stock_outs: int = 0) -> Side:
    """The figures of a set of order outcomes (and the window's stock-outs)."""
    s = Side(dict.fromkeys(NAMES, 0.0), {}, {}, stock_outs)
    for outcome in outcomes:
        f = figures(outcome, rules)
        _add(s.total, f)
        _add(s.channels.setdefault(outcome.channel, {}), f)
        _add(s.regions.setdefault(region_of(outcome.province) or UNKNOWN_REGION, {}), f)
    return s


@dataclass(frozen=True)
class Comparison:
    """What happened (``actual``) and what the fork did (``whatif``), over the same orders."""

    actual: Side
    whatif: Side
    changed: tuple[str, ...] = ()  # orders whose locations or status differ, sorted

    def rows(self, by: str = "total") -> list[tuple[str, str, float, float, float]]:
        """(group, metric, actual, what-if, difference) for ``by`` in total, channel,
        region; groups sorted, metrics in table order."""
        if by == "total":
            groups: dict[str, tuple[Figures, Figures]] = {
                "": (self.actual.total, self.whatif.total)
            }
        else:
            a = getattr(self.actual, f"{by}s")
            w = getattr(self.whatif, f"{by}s")
            groups = {g: (a.get(g, {}), w.get(g, {})) for g in sorted(a.keys() | w.keys())}
        return [
            (g, name, fa.get(name, 0.0), fw.get(name, 0.0), fw.get(name, 0.0) - fa.get(name, 0.0))
            for g, (fa, fw) in groups.items()
            for name in NAMES
        ]


def compare(
    actual: Mapping[str, OrderOutcome],
    whatif: Mapping[str, OrderOutcome],
    rules: Rules,
    stock_outs: tuple[int, int] = (0, 0),
) -> Comparison:
    """Both sides over the orders the live history has (an order the fork never placed
    counts as pending there)."""
    fork = [
        whatif.get(o.order_id, OrderOutcome(o.order_id, o.channel, o.province, o.speed, "pending"))
        for o in actual.values()
    ]
    changed = tuple(
        sorted(
            o.order_id
            for o, w in zip(actual.values(), fork, strict=True)
            if (o.status, o.locations) != (w.status, w.locations)
        )
    )
    return Comparison(
        side(actual.values(), rules, stock_outs[0]), side(fork, rules, stock_outs[1]), changed
    )
