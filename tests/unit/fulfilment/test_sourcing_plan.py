"""One test per sourcing rule, on the pure plan (no Kafka, no database)."""

from __future__ import annotations

from dataclasses import dataclass, field

from oms_events.fulfilment.rules import parse
from oms_events.fulfilment.sourcing_plan import Line, Plan, SourcingOrder, plan

LOCATIONS = """
[locations.WH-SH]
province = "上海"
cost = 8.0
[locations.WH-GZ]
province = "广东省"
cost = 6.0
[locations.WH-BJ]
province = "北京"
cost = 5.0
"""


@dataclass
class Stock:
    units: dict[tuple[str, str], int] = field(default_factory=dict)

    def available(self, sku: str, location: str) -> int:
        return self.units.get((sku, location), 0)

    def holders(self, sku: str) -> set[str]:
        return {loc for (s, loc) in self.units if s == sku}


def order(
    province: str = "广东",
    *lines: tuple[str, int],
    channel: str = "web",
    pickup: bool = False,
    city: str | None = None,
) -> SourcingOrder:
    return SourcingOrder(
        channel=channel,
        province=province,
        city=city,
        lines=tuple(Line(n, sku, qty) for n, (sku, qty) in enumerate(lines or (("A", 1),), 1)),
        pickup=pickup,
    )


def where(p: Plan) -> dict[int, tuple[str, str]]:
    return {a.line_no: (a.location, a.rule) for a in p.assignments}


def test_channel_priority_beats_distance() -> None:
    rules = parse(LOCATIONS + '[sourcing.priorities]\nchannels = { tmall = ["WH-SH"] }\n')
    stock = Stock({("A", "WH-SH"): 5, ("A", "WH-GZ"): 5})
    assert where(plan(order("广东", channel="tmall"), stock, rules)) == {1: ("WH-SH", "priority")}
    # Another channel is not bound by tmall's list: the nearer warehouse serves it.
    assert where(plan(order("广东", channel="jd"), stock, rules)) == {1: ("WH-GZ", "distance")}


def test_region_priority() -> None:
    rules = parse(LOCATIONS + '[sourcing.priorities]\nregions = { "华北" = ["WH-SH"] }\n')
    stock = Stock({("A", "WH-SH"): 5, ("A", "WH-BJ"): 5})
    assert where(plan(order("河北"), stock, rules)) == {1: ("WH-SH", "priority")}


def test_region_distance_beats_more_stock() -> None:
    rules = parse(LOCATIONS)
    stock = Stock({("A", "WH-SH"): 500, ("A", "WH-GZ"): 2, ("A", "WH-BJ"): 100})
    # 广西 is 华南, like 广东: WH-GZ is one hop away, the others farther.
    assert where(plan(order("广西壮族自治区"), stock, rules)) == {1: ("WH-GZ", "distance")}
    assert where(plan(order("辽宁"), stock, rules)) == {1: ("WH-BJ", "distance")}


def test_cost_decides_between_equally_near_locations() -> None:
    rules = parse(LOCATIONS + '[locations.WH-HZ]\nprovince = "浙江"\ncost = 3.0\n')
    stock = Stock({("A", "WH-SH"): 50, ("A", "WH-HZ"): 1})
    # 江苏 is 华东: both one hop; WH-HZ is cheaper per shipment.
    assert where(plan(order("江苏"), stock, rules)) == {1: ("WH-HZ", "cost")}
    costly_first = parse(
        LOCATIONS + '[locations.WH-HZ]\nprovince = "浙江"\ncost = 3.0\n'
        '[sourcing]\nrank_by = ["stock", "cost"]\n'
    )
    assert where(plan(order("江苏"), stock, costly_first)) == {1: ("WH-SH", "most_stock")}


def test_one_location_for_the_whole_order_when_one_has_it() -> None:
    rules = parse(LOCATIONS)
    stock = Stock({("A", "WH-GZ"): 5, ("B", "WH-GZ"): 0, ("A", "WH-SH"): 5, ("B", "WH-SH"): 5})
    p = plan(order("广东", ("A", 1), ("B", 1)), stock, rules)
    assert p.locations == {"WH-SH"}


def test_max_shipments_leaves_a_line_unserved_rather_than_a_third_parcel() -> None:
    stock = Stock({("A", "WH-SH"): 1, ("B", "WH-GZ"): 1, ("C", "WH-BJ"): 1, ("C", "WH-SH"): 0})
    lines = (("A", 1), ("B", 1), ("C", 1))
    free = plan(order("广东", *lines), stock, parse(LOCATIONS))
    assert free.locations == {"WH-SH", "WH-GZ", "WH-BJ"} and not free.unserved
    capped = plan(
        order("广东", *lines),
        stock,
        parse(LOCATIONS + "[sourcing]\nmax_shipments = 2\n"),
        exclude={3: ["WH-SH"]},
    )
    assert len(capped.locations) == 2 and capped.unserved == (3,)


def test_no_split_keeps_a_line_whole_and_split_spreads_it() -> None:
    stock = Stock({("A", "WH-SH"): 3, ("A", "WH-GZ"): 2})
    # A retry (WH-BJ refused): no location has 5, and the line is not cut in two.
    whole = plan(order("广东", ("A", 5)), stock, parse(LOCATIONS), exclude={1: ["WH-BJ"]})
    assert not whole.assignments and whole.unserved == (1,)
    split = plan(
        order("广东", ("A", 5)), stock, parse(LOCATIONS + "[sourcing]\nsplit_lines = true\n")
    )
    assert sorted((a.location, a.quantity) for a in split.assignments) == [
        ("WH-GZ", 2),
        ("WH-SH", 3),
    ]


def test_store_pickup_serves_the_whole_order_from_the_buyers_store() -> None:
    rules = parse(
        LOCATIONS
        + '[locations.ST-SZ]\nprovince = "广东"\ncity = "深圳"\npickup = true\n'
        + '[locations.ST-GZ]\nprovince = "广东"\ncity = "广州"\npickup = true\n'
    )
    stock = Stock({("A", "ST-SZ"): 1, ("A", "ST-GZ"): 9, ("A", "WH-GZ"): 9})
    picked = plan(order("广东", pickup=True, city="深圳"), stock, rules)
    assert where(picked) == {1: ("ST-SZ", "store_pickup")}
    # A delivered order never takes a store's shelf stock.
    assert where(plan(order("广东", city="深圳"), stock, rules)) == {1: ("WH-GZ", "distance")}
    # The store short: shipped from a warehouse instead.
    short = plan(order("广东", ("A", 2), pickup=True, city="深圳"), stock, rules)
    assert where(short) == {1: ("WH-GZ", "distance")}


def test_drop_ship_lines_go_to_the_supplier() -> None:
    rules = parse(
        LOCATIONS
        + '[[suppliers]]\nid = "SUP-SOFA"\nskus = ["SOFA"]\n'
        + '[[suppliers]]\nid = "SUP-LAMP"\nskus = ["LAMP"]\nonly_when_short = true\n'
    )
    stock = Stock({("A", "WH-GZ"): 5, ("SOFA", "WH-GZ"): 5, ("LAMP", "WH-GZ"): 1})
    p = plan(order("广东", ("A", 1), ("SOFA", 1), ("LAMP", 3)), stock, rules)
    assert [(d.line_no, d.supplier) for d in p.dropship] == [(2, "SUP-SOFA"), (3, "SUP-LAMP")]
    assert where(p) == {1: ("WH-GZ", "distance")}
    enough = plan(order("广东", ("LAMP", 1)), stock, rules)
    assert not enough.dropship and where(enough) == {1: ("WH-GZ", "distance")}


def test_lagging_view_still_asks_the_best_location_but_a_retry_does_not() -> None:
    rules = parse(LOCATIONS)
    stock = Stock({("A", "WH-GZ"): 0, ("A", "WH-SH"): 0})
    assert where(plan(order("广东"), stock, rules)) == {1: ("WH-GZ", "distance")}
    assert plan(order("广东"), stock, rules, exclude={1: ["WH-GZ"]}).unserved == (1,)


def test_a_location_already_serving_the_order_comes_first() -> None:
    rules = parse(LOCATIONS)
    stock = Stock({("A", "WH-GZ"): 5, ("A", "WH-SH"): 5})
    assert where(plan(order("广东"), stock, rules, prefer=["WH-SH"]))[1][0] == "WH-SH"
