"""The order saga with a rules file: it asks where the rules say, retries at the next
location by the rules, and the Allocation names the rule (no Kafka)."""

from __future__ import annotations

from oms_events.domain.workflow import ShortagePolicy, Workflow
from oms_events.engine.commands import CreateShipment
from oms_events.fulfilment.rules import parse
from tests.unit.engine.flow import Flow, place

# The flow's orders ship to 浙江 (华东).
RULES = parse(
    """
[locations.SH]
province = "上海"
cost = 9.0
[locations.HZ]
province = "浙江"
cost = 9.0
[locations.BJ]
province = "北京"
cost = 1.0
"""
)


def ruled(stock: dict[tuple[str, str], int]) -> Flow:
    flow = Flow(stock)
    flow.service.saga.rules = RULES
    return flow


def test_the_rules_pick_the_location_and_the_allocation_names_the_rule() -> None:
    flow = ruled({("TEA", "HZ"): 2, ("TEA", "SH"): 50, ("TEA", "BJ"): 90})
    [ask] = flow.send(place(lines=[("TEA", 2)])).asks()
    assert ask.location == "HZ"  # same province beats more stock and a cheaper warehouse
    allocated = flow.answer(ask)
    [record] = allocated.named("Allocation")
    assert (record["location"], record["rule"]) == ("HZ", "distance")


def test_a_refused_line_is_asked_at_the_next_location_by_the_rules() -> None:
    flow = ruled({("TEA", "HZ"): 2, ("TEA", "SH"): 5, ("TEA", "BJ"): 90})
    [ask] = flow.send(place(lines=[("TEA", 2)])).asks()
    [retry] = flow.answer(ask, outcome="rejected").asks()
    # SH is one hop from 浙江, BJ two: nearer wins, though BJ has more and is cheaper.
    assert (retry.location, retry.tried) == ("SH", ("HZ",))
    [record] = flow.answer(retry).named("Allocation")
    # The rules alone favour HZ: SH served because HZ was short, and the record says so.
    assert (record["location"], record["rule"]) == ("SH", "most_stock")


def test_without_rules_the_allocation_records_todays_rule() -> None:
    flow = Flow({("TEA", "SH"): 5})
    [ask] = flow.send(place(lines=[("TEA", 1)])).asks()
    [record] = flow.answer(ask).named("Allocation")
    assert record["rule"] == "most_stock"


def test_a_drop_ship_line_is_reserved_at_the_supplier_and_ordered_from_it() -> None:
    flow = Flow({("TEA", "HZ"): 5, ("SOFA", "SUP-SOFA"): 10, ("SOFA", "SH"): 10})
    flow.service.saga.rules = RULES.model_copy(
        update={"suppliers": parse('[[suppliers]]\nid = "SUP-SOFA"\nskus = ["SOFA"]\n').suppliers}
    )
    asks = flow.send(place(lines=[("TEA", 1), ("SOFA", 1)])).asks()
    assert [(a.sku, a.location) for a in asks] == [("TEA", "HZ"), ("SOFA", "SUP-SOFA")]
    done = flow.answer(*asks)
    [allocation] = done.named("Allocation")
    [purchase] = done.named("PurchaseOrder")
    assert (allocation["location"], [ln["sku"] for ln in allocation["lines"]]) == ("HZ", ["TEA"])
    assert (purchase["supplier"], purchase["rule"]) == ("SUP-SOFA", "dropship")
    assert [(ln["sku"], ln["quantity"]) for ln in purchase["lines"]] == [("SOFA", 1)]
    assert purchase["ship_to"]["province"] == "浙江省"
    # The supplier's shipment knows it is one, so a cancellation goes where this went.
    shipments = {c.location: c.drop_ship for c in done.commands(CreateShipment)}
    assert shipments == {"HZ": False, "SUP-SOFA": True}


def test_a_pre_order_is_asked_again_where_the_rules_say() -> None:
    """Stock for a waiting pre-order arrives at two warehouses: the retry goes where the
    rules send the order (浙江 → HZ), not to the one with the most units; a second
    pre-order goes on to the next by the rules once HZ's units are spoken for."""
    flow = Flow({("TEA", "SH"): 0, ("TEA", "HZ"): 0}, Workflow(on_shortage=ShortagePolicy.PREORDER))
    flow.service.saga.rules = RULES
    waiting = []
    for n in range(2):
        [ask] = flow.send(place(f"P{n}", lines=[("TEA", 2)])).asks()
        assert flow.answer(ask, outcome="rejected", available=0).events == ["PreOrdered"]
        waiting.append(ask.order_id)
    flow.receive("TEA", "SH", 50)
    flow.receive("TEA", "HZ", 2)
    retried = flow.tick()
    assert retried is not None
    assert [(a.order_id, a.location) for a in retried.asks()] == [
        (waiting[0], "HZ"),
        (waiting[1], "SH"),
    ]
