"""What-if figures, worked by hand: order outcomes folded from events, priced and
measured by one rules file on both sides, per channel and region."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from oms_events.fulfilment import geography
from oms_events.fulfilment.regions import PROVINCE_REGION
from oms_events.fulfilment.rules import parse
from oms_events.whatif.comparison import NAMES, compare, figures, transit_days
from oms_events.whatif.outcomes import OrderOutcome, StockSample, order_outcomes, stock_outs

RULES = parse(
    """
[locations.SH]
province = "上海"
cost = 8.0
[locations.BJ]
province = "北京市"
cost = 5.0
[[carriers]]
carrier = "SF"
cost = { base = 12.0, regions = { "华南" = 15.0 } }
"""
)


@dataclass(frozen=True)
class E:
    name: str
    originator_id: uuid.UUID
    payload: dict[str, Any] = field(default_factory=dict)


def placed(order: uuid.UUID, province: str, channel: str = "web", speed: str = "standard") -> E:
    return E(
        "OrderPlaced",
        order,
        {"channel": channel, "address": {"province": province}, "delivery_speed": speed},
    )


def allocated(order: uuid.UUID, *locations: str) -> E:
    return E(
        "OrderAllocated",
        order,
        {"allocations": [{"line_no": n, "location": loc} for n, loc in enumerate(locations, 1)]},
    )


A, B, C, D = (uuid.UUID(int=n) for n in range(1, 5))


def test_the_fold_keeps_the_last_decision_and_the_allocation_of_a_confirmed_order() -> None:
    outcomes = order_outcomes(
        [
            placed(A, "浙江省"),
            E("PreOrdered", A),
            allocated(A, "SH", "BJ", "SH"),
            E("OrderShipped", A),  # shipping leaves the decision as it was
            placed(B, "广东省", "tmall"),
            allocated(B, "BJ"),
            E("OrderCancelled", B),
            placed(C, "北京"),
            E("OrderRejected", C),
            allocated(D, "SH"),  # placed before the window: not folded
        ]
    )
    assert outcomes[str(A)] == OrderOutcome(
        str(A), "web", "浙江省", "standard", "confirmed", ("BJ", "SH"), True
    )
    assert (outcomes[str(B)].status, outcomes[str(B)].locations) == ("cancelled", ())
    assert outcomes[str(C)].status == "rejected"
    assert str(D) not in outcomes


def test_backordered_lines_allocated_later_are_a_shipment_of_their_own() -> None:
    outcomes = order_outcomes(
        [
            placed(A, "浙江省"),
            allocated(A, "SH"),
            E("BackorderAllocated", A, {"location": "SH", "allocations": []}),
        ]
    )
    assert outcomes[str(A)].locations == ("SH", "SH")
    assert figures(outcomes[str(A)], RULES)["shipments"] == 2


def test_an_address_change_moves_the_order_to_its_new_region() -> None:
    outcomes = order_outcomes(
        [placed(A, "浙江省"), E("AddressChanged", A, {"address": {"province": "四川省"}})]
    )
    assert outcomes[str(A)].province == "四川省"


def test_one_order_priced_and_measured_by_hand() -> None:
    # From Beijing (5 + SF 12) and Shanghai (8 + SF 12) to 浙江: 1124 + 165 km.
    order = OrderOutcome("A", "web", "浙江省", "express", "confirmed", ("BJ", "SH"))
    f = figures(order, RULES)
    assert f["shipments"] == 2
    assert f["split_orders"] == 1
    assert f["shipping_cost"] == 37.0
    assert f["distance_km"] == 1124 + 165
    # Beijing to 浙江 is two region hops: two days, within express's two.
    assert f["promise_misses"] == 0
    assert (
        figures(OrderOutcome("B", "web", "广东", "express", "confirmed", ("BJ",)), RULES)[
            "promise_misses"
        ]
        == 1
    )  # 华北 -> 华南: three hops, three days


def test_a_backorder_misses_its_promise_and_ships_nothing() -> None:
    f = figures(OrderOutcome("A", "web", "浙江省", "standard", "backorder", (), True), RULES)
    assert (f["backorders"], f["promise_misses"], f["shipments"], f["confirmed"]) == (1, 1, 0, 0)


def test_the_comparison_per_channel_and_region() -> None:
    actual = {
        "A": OrderOutcome("A", "web", "浙江省", "standard", "confirmed", ("BJ",)),
        "B": OrderOutcome("B", "tmall", "上海", "standard", "confirmed", ("BJ",)),
        "C": OrderOutcome("C", "tmall", "北京", "standard", "rejected"),
    }
    whatif = {
        "A": OrderOutcome("A", "web", "浙江省", "standard", "confirmed", ("SH",)),
        "B": OrderOutcome("B", "tmall", "上海", "standard", "confirmed", ("SH",)),
        # C never placed in the fork: pending there
    }
    c = compare(actual, whatif, RULES, (2, 1))
    total = {m: (a, w, d) for _, m, a, w, d in c.rows("total")}
    assert total["distance_km"] == (1124 + 1067, 165, 165 - 1124 - 1067)
    assert total["shipping_cost"] == (34.0, 40.0, 6.0)
    assert total["rejected"] == (1, 0, -1)
    assert (c.actual.stock_outs, c.whatif.stock_outs) == (2, 1)
    assert c.changed == ("A", "B", "C")
    by_channel = {(g, m): d for g, m, _, _, d in c.rows("channel")}
    assert by_channel[("tmall", "distance_km")] == -1067
    assert by_channel[("web", "distance_km")] == 165 - 1124
    by_region = {(g, m): (a, w) for g, m, a, w, _ in c.rows("region")}
    assert by_region[("华东", "orders")] == (2, 2)
    assert by_region[("华北", "rejected")] == (1, 0)


def test_stock_outs_count_items_emptied_or_refusing() -> None:
    samples = [
        StockSample("TEA", "SH", "StockReserved", 3),
        StockSample("TEA", "SH", "StockReserved", 0),
        StockSample("TEA", "SH", "StockReserved", 0),
        StockSample("TEA", "BJ", "ReservationRejected", 1),
        StockSample("TEA", "GZ", "ReservationRejected", 0),  # had none to begin with
    ]
    assert stock_outs(samples, {("TEA", "SH"): 5, ("TEA", "BJ"): 1}) == 2


provinces = st.sampled_from(sorted(PROVINCE_REGION))


@given(provinces, provinces)
def test_kilometres_are_symmetric_and_zero_only_within_a_province(a: str, b: str) -> None:
    assert geography.km(a, b) == geography.km(b, a)
    assert (geography.km(a, b) == 0) == (geography.CAPITALS[a] == geography.CAPITALS[b])
    assert geography.km(a, None) is None


@given(provinces, provinces)
def test_a_farther_region_never_arrives_sooner(a: str, b: str) -> None:
    assert 1 <= transit_days(a, b) <= 3
    assert transit_days(a, a) == 1


def test_every_metric_is_counted_for_every_order() -> None:
    f = figures(OrderOutcome("A", "web", None, "standard", "pending"), RULES)
    assert set(f) == set(NAMES) and f["orders"] == 1
