"""The merge protocol (合单) between a lead order and its members, without Kafka: each
order command written is delivered back to the order service, as its processor would,
and every reservation is answered as reserved. Orders above ¥15.00 are held, so they
wait for an operator (and may be merged) before allocation."""

from __future__ import annotations

import uuid
from typing import Any

from oms_events.domain.money import Money
from oms_events.domain.order import OrderStatus
from oms_events.domain.workflow import ShortagePolicy, Workflow
from oms_events.engine import commands
from oms_events.engine.commands import (
    CancelOrder,
    Command,
    CreateShipment,
    MergeOrders,
    PlaceOrder,
    ReleaseOrder,
    SplitOrder,
)
from oms_events.engine.order_merging import group_id_of
from tests.unit.engine.flow import Flow, Result, address, order_id, place

STOCK = {("TEA", "SH"): 10, ("CUP", "SH"): 10, ("PEN", "SH"): 1}


def settle(flow: Flow, command: Command, taken: dict[Any, int] | None = None) -> list[Result]:
    """Send ``command``, then every order command it causes, answering reservations
    as the inventory would (``taken``: units reserved so far per (sku, location))."""
    taken = {} if taken is None else taken
    results: list[Result] = []
    queue: list[Command] = [command]
    while queue:
        result = flow.send(queue.pop(0))
        results.append(result)
        for a in result.asks():
            where = (a.sku, a.location)
            left = flow.view.available(*where) - taken.get(where, 0)
            if a.quantity <= left:
                taken[where] = taken.get(where, 0) + a.quantity
                answered = flow.answer(a)
            else:
                answered = flow.answer(a, outcome="rejected", available=left)
            results.append(answered)
            queue += _order_commands(answered)
        queue += _order_commands(result)
    return results


def _order_commands(result: Result) -> list[Command]:
    return [
        commands.from_record(w.name, w.payload)
        for w in result.written
        if w.topic.endswith("oms.order.commands")
    ]


def held(flow: Flow, *placed: PlaceOrder) -> None:
    for p in placed:
        settle(flow, p)
        assert flow.order(order_id(p)).status is OrderStatus.ON_HOLD


def merge(flow: Flow, *placed: PlaceOrder) -> list[Result]:
    ids = tuple(order_id(p) for p in placed)
    return settle(
        flow,
        MergeOrders(
            command_id=str(uuid.uuid4()),
            order_id=ids[0],
            group_id=group_id_of(ids),
            order_ids=ids,
            actor="wang.wu",
        ),
    )


def release(flow: Flow, p: PlaceOrder) -> list[Result]:
    return settle(
        flow, ReleaseOrder(command_id=str(uuid.uuid4()), order_id=order_id(p), actor="wang.wu")
    )


def shipments(results: list[Result]) -> list[CreateShipment]:
    return [c for r in results for c in r.commands(CreateShipment)]


def flow() -> Flow:
    return Flow(STOCK, Workflow(hold_above=Money(1500, "CNY")))


def test_merged_orders_make_one_parcel_once_every_one_is_released() -> None:
    f = flow()
    a, b = place("A", [("TEA", 2)]), place("B", [("CUP", 2)])
    held(f, a, b)
    merge(f, a, b)
    lead = f.order(order_id(a))
    assert lead.merge_formed and f.order(order_id(b)).merge_group == lead.merge_group

    assert shipments(release(f, b)) == []  # allocated, its lines wait for the group
    assert f.order(order_id(b)).status is OrderStatus.ALLOCATED
    [parcel] = shipments(release(f, a))
    assert parcel.parcel == "merge" and parcel.order_id == order_id(a)
    assert sorted((ln.order_id, ln.sku) for ln in parcel.lines) == sorted(
        [(order_id(a), "TEA"), (order_id(b), "CUP")]
    )
    assert parcel.shipment_id == uuid.uuid5(uuid.UUID(lead.merge_group or ""), "SH")


def test_a_merge_the_rules_refuse_leaves_every_order_to_ship_alone() -> None:
    f = flow()
    a = place("C", [("TEA", 2)])
    b = place("D", [("CUP", 2)])
    b = PlaceOrder(**{**vars(b), "address": address("文三路 1 号")})
    held(f, a, b)
    results = merge(f, a, b)
    left = [p for r in results for p in r.named("MergeLeft")]
    assert len(left) == 2 and all("another address" in p["reason"] for p in left)
    assert f.order(order_id(a)).merge_group is None
    assert [s.parcel for s in shipments(release(f, a))] == [""]  # its own parcel


def test_a_member_that_may_not_merge_refuses_and_the_group_dissolves() -> None:
    f = flow()
    a, b = place("E", [("TEA", 2)]), place("F", [("CUP", 2)], paid=False)
    settle(f, a)
    settle(f, b)
    results = merge(f, a, b)
    [left] = [p for r in results for p in r.named("MergeLeft")]
    assert "not paid" in left["reason"]
    assert f.order(order_id(b)).merge_group is None


def test_a_member_cancelled_before_the_parcel_leaves_the_group_and_the_lead_ships_alone() -> None:
    f = flow()
    a, b = place("G", [("TEA", 2)]), place("H", [("CUP", 2)])
    held(f, a, b)
    merge(f, a, b)
    results = settle(
        f, CancelOrder(command_id=str(uuid.uuid4()), order_id=order_id(b), reason="changed mind")
    )
    assert [ln.sku for ln in results[0].releases()] == ["CUP"]  # its own stock, only
    assert f.order(order_id(a)).merge_group is None  # two orders were the group
    [own] = shipments(release(f, a))
    assert own.parcel == "" and [ln.sku for ln in own.lines] == ["TEA"]


def test_a_split_backorders_what_is_short_and_asks_for_it_when_stock_arrives() -> None:
    f = Flow(STOCK, Workflow(on_shortage=ShortagePolicy.PREORDER))
    p = place("S", [("PEN", 3), ("CUP", 1)])
    taken: dict[Any, int] = {}
    settle(f, p, taken)
    assert f.order(order_id(p)).status is OrderStatus.PRE_ORDER
    split = SplitOrder(
        command_id=str(uuid.uuid4()), order_id=order_id(p), by="availability", actor="li"
    )
    results = settle(f, split, taken)
    [parcel] = shipments(results)
    assert sorted((ln.sku, ln.quantity) for ln in parcel.lines) == [("CUP", 1), ("PEN", 1)]
    order = f.order(order_id(p))
    assert order.backordered == {3} and order.lines[3].quantity == 2

    f.receive("PEN", "SH", 5)
    tick = f.tick()
    assert tick is not None
    [ask] = tick.asks()
    assert (ask.line_no, ask.quantity) == (3, 2)
    [later] = f.answer(ask).commands(CreateShipment)
    assert later.parcel == "backorder" and [ln.line_no for ln in later.lines] == [3]
    assert not f.order(order_id(p)).backordered
