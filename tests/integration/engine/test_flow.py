"""The order flow on the real broker, engine in this process: place -> reserve -> confirm
-> allocate -> ship, with rejection, compensation, cancel and dead letters."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from oms_events import deadletter, topics
from oms_events.engine import commands
from oms_events.engine.commands import CancelOrder
from oms_events.engine.runner import Engine
from oms_events.kafka.connection import producer
from oms_events.settings import Settings
from tests.integration.engine.harness import (
    CODEC,
    audit_stock,
    engine_settings,
    light,
    order_outcomes,
    place_order,
    publish_orders,
    read_events,
    read_topic,
    receive,
    send,
    wait_for,
)
from tests.unit.engine.flow import change


@pytest.fixture
def running(isolated: Settings) -> Iterator[tuple[Settings, Engine]]:
    settings = light(isolated)
    engine = Engine(engine_settings(settings))
    receive(settings, {("TEA", "SH"): 2, ("TEA", "BJ"): 1})
    engine.start()
    # Stock arrives long before orders in life; here the view must see it first.
    assert wait_for(
        lambda: (
            engine.stock.available("TEA", "BJ") == 1 and engine.stock.available("TEA", "SH") == 2
        ),
        60,
        0.2,
    )
    yield settings, engine
    engine.stop()
    assert not engine.failed()


def test_orders_are_confirmed_until_stock_runs_out(running: tuple[Settings, Engine]) -> None:
    settings, _ = running
    orders = [place_order(f"E{i}", "TEA") for i in range(5)]
    publish_orders(settings, orders)
    wait_for(lambda: len([s for s in order_outcomes(settings).values() if s != "placed"]) == 5, 60)
    outcomes = order_outcomes(settings)
    assert sorted(outcomes.values()) == ["OrderAllocated"] * 3 + ["OrderRejected"] * 2
    stock = audit_stock(read_events(settings, "inventory"))
    assert sum(stock.reserved.values()) == 3 and not stock.negative
    allocations = read_topic(settings, topics.name(settings, topics.ALLOCATIONS))
    assert sorted(r.key for r in allocations) == [b"BJ", b"SH", b"SH"]
    name, allocation = CODEC.decode(allocations[0].value)
    assert name == "oms.allocation.Allocation" and allocation["lines"][0]["sku"] == "TEA"


def test_shipping_commits_stock_and_ships_the_order(running: tuple[Settings, Engine]) -> None:
    settings, _ = running
    publish_orders(settings, [place_order("S1", "TEA")])
    assert wait_for(
        lambda: bool(read_topic(settings, topics.name(settings, topics.ALLOCATIONS))), 60
    )
    _, allocation = CODEC.decode(
        read_topic(settings, topics.name(settings, topics.ALLOCATIONS))[0].value
    )
    p = producer(settings)
    updates = topics.name(settings, topics.WAREHOUSE_UPDATES)
    for status in ("picked", "packed", "shipped"):
        p.send(
            updates,
            key=allocation["shipment_id"].encode(),
            value=CODEC.encode(
                "oms.warehouse.WarehouseUpdate",
                {
                    "update_id": str(uuid.uuid4()),
                    "shipment_id": allocation["shipment_id"],
                    "location": allocation["location"],
                    "status": status,
                    "carrier": "SF" if status == "shipped" else None,
                    "tracking_no": "SF123" if status == "shipped" else None,
                    "at": datetime.now(UTC),
                },
                topic=updates,
            ),
        )
    p.flush()
    p.close()
    assert wait_for(lambda: "OrderShipped" in order_outcomes(settings).values(), 60)
    names = [e.name for e in read_events(settings, "inventory")]
    assert "ReservationCommitted" in names
    shipment = [e.name for e in read_events(settings, "shipment")]
    assert shipment == ["ShipmentCreated", "ShipmentPicked", "ShipmentPacked", "ShipmentShipped"]


def test_bad_input_goes_to_the_dead_letter_topic(running: tuple[Settings, Engine]) -> None:
    settings, _ = running
    p = producer(settings)
    p.send(topics.name(settings, topics.commands("order")), key=b"x", value=b"not avro")
    good = place_order("B1", "TEA")
    # A Chinese address needs a province and a city.
    bad = replace(good, address=replace(good.address, city=None))
    order_commands = topics.name(settings, topics.commands("order"))
    p.send(order_commands, key=b"B1", value=commands.encode(CODEC, bad, topic=order_commands))
    p.flush()
    p.close()
    publish_orders(settings, [place_order("G1", "TEA")])  # the partition keeps going
    dead = topics.name(settings, topics.DEADLETTER)
    assert wait_for(lambda: len(read_topic(settings, dead)) == 2, 60)
    letters = [deadletter.read(r.headers) for r in read_topic(settings, dead)]
    assert sorted(x.reason.code for x in letters) == ["address.invalid", "decode.error"]
    assert wait_for(lambda: "OrderAllocated" in order_outcomes(settings).values(), 60)


def test_cancel_releases_the_reservation(running: tuple[Settings, Engine]) -> None:
    settings, _ = running
    unpaid = place_order("C1", "TEA", paid=False)
    publish_orders(settings, [unpaid])
    assert wait_for(
        lambda: any(e.name == "LinesReserved" for e in read_events(settings, "order")), 60
    )
    order_id = read_events(settings, "order")[0].originator_id
    send(
        settings, [CancelOrder(command_id=str(uuid.uuid4()), order_id=order_id, reason="customer")]
    )
    assert wait_for(
        lambda: any(e.name == "ReservationReleased" for e in read_events(settings, "inventory")), 60
    )
    assert order_outcomes(settings)[str(order_id)] == "OrderCancelled"
    assert sum(audit_stock(read_events(settings, "inventory")).reserved.values()) == 0


def test_unpaid_reservation_expires_and_is_released(isolated: Settings) -> None:
    settings = light(isolated)
    engine = Engine(engine_settings(settings, workflow='{"reservation_ttl": 1}', ttl_check_ms=200))
    receive(settings, {("TEA", "SH"): 2})
    engine.start()
    try:
        assert wait_for(lambda: engine.stock.available("TEA", "SH") == 2, 60, 0.2)
        publish_orders(
            settings,
            [
                place_order("T1", "TEA", paid=False),
                place_order("T2", "TEA", method="cod", paid=False),
            ],
        )
        assert wait_for(lambda: "OrderCancelled" in order_outcomes(settings).values(), 60)
    finally:
        engine.stop()
    cancelled = [e for e in read_events(settings, "order") if e.name == "OrderCancelled"]
    assert [e.payload["reason"] for e in cancelled] == ["reservation.expired"]
    names = [e.name for e in read_events(settings, "inventory")]
    assert names.count("ReservationReleased") == names.count("StockReserved") - (
        1 if "OrderAllocated" in order_outcomes(settings).values() else 0
    )


def test_a_changed_quantity_moves_the_reservation(running: tuple[Settings, Engine]) -> None:
    settings, engine = running
    receive(settings, {("MUG", "SH"): 10})
    assert wait_for(lambda: engine.stock.available("MUG", "SH") == 10, 60, 0.2)
    placed = place_order("Q1", "MUG", quantity=1, paid=False)  # waits for payment
    publish_orders(settings, [placed])
    assert wait_for(
        lambda: any(e.name == "LinesReserved" for e in read_events(settings, "order")), 60
    )
    send(settings, [change(placed, [(1, placed.lines[0].sku, 3)])])

    def moved() -> bool:
        stock = audit_stock(read_events(settings, "inventory"))
        return sum(stock.reserved.values()) == 3 and not stock.negative

    assert wait_for(moved, 60)
    inventory = [e for e in read_events(settings, "inventory") if e.payload.get("order_id")]
    assert [(e.name, e.payload["quantity"]) for e in inventory] == [
        ("StockReserved", 1),
        ("ReservationReleased", 1),
        ("StockReserved", 3),
    ]
    assert wait_for(
        lambda: [e.name for e in read_events(settings, "order")][-1] == "LinesReserved", 60
    )
    order_events = read_events(settings, "order")
    assert [e.name for e in order_events] == [
        "OrderPlaced",
        "LinesReserved",
        "QuantityChanged",
        "LinesReserved",
    ]
    # The order holds the new reservation, the one the inventory holds.
    [reservation] = order_events[-1].payload["reservations"]
    assert reservation["reservation_id"] == inventory[-1].payload["reservation_id"]


def test_a_change_after_allocation_is_refused_with_a_reply(
    running: tuple[Settings, Engine],
) -> None:
    settings, _ = running
    placed = place_order("Q2", "TEA")
    publish_orders(settings, [placed])
    assert wait_for(lambda: "OrderAllocated" in order_outcomes(settings).values(), 60)
    changed = change(placed, [(1, placed.lines[0].sku, 2)])
    send(settings, [changed])
    notifications = topics.name(settings, topics.NOTIFICATIONS)
    assert wait_for(lambda: bool(read_topic(settings, notifications)), 60)
    [reply] = read_topic(settings, notifications)
    name, payload = CODEC.decode(reply.value)
    assert name == "oms.replies.CommandRejected"
    assert (payload["code"], payload["command_id"]) == ("order.locked", changed.command_id)
    assert read_topic(settings, topics.name(settings, topics.DEADLETTER)) == []
    assert [e.name for e in read_events(settings, "order")][-1] == "OrderAllocated"


def test_a_pre_order_is_reserved_when_stock_arrives(isolated: Settings) -> None:
    settings = light(isolated)
    engine = Engine(
        engine_settings(settings, workflow='{"on_shortage": "preorder"}', ttl_check_ms=200)
    )
    engine.start()
    try:
        early, late = place_order("P1", "KETTLE"), place_order("P2", "KETTLE")
        publish_orders(settings, [early, late])
        assert wait_for(
            lambda: list(order_outcomes(settings).values()) == ["PreOrdered"] * 2, 60
        ), order_outcomes(settings)
        receive(settings, {("KETTLE", "SH"): 1})  # one unit: the earlier order gets it
        assert wait_for(lambda: "OrderAllocated" in order_outcomes(settings).values(), 60)
    finally:
        engine.stop()
    assert not engine.failed()
    outcomes = order_outcomes(settings)
    assert (outcomes[early.key], outcomes[late.key]) == (
        "OrderAllocated",
        "PreOrdered",
    )
    stock = audit_stock(read_events(settings, "inventory"))
    assert sum(stock.reserved.values()) == 1 and not stock.negative
