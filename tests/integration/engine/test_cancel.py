"""Cancelling an order after allocation, on the real broker and PostgreSQL, one engine for
every branch: before pick, after pick and pack (the warehouse ships anyway), after ship
with the parcel intercepted, after ship with the parcel delivered first.

Each branch has its own sku (5 units at SH), so its stock is read alone from the
inventory projection: on hand = received - shipped + returned, available never below 0.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from oms_events import topics
from oms_events.engine.commands import CancelOrder, RecordCarrierUpdate
from oms_events.kafka.connection import producer
from oms_events.settings import Settings
from tests.integration.engine.harness import (
    CODEC,
    EngineWorld,
    engine_world,
    light,
    place_order,
    read_events,
    read_topic,
    send,
    wait_for,
)
from tests.integration.engine.test_money import oms

SKUS = ("CX-A", "CX-B", "CX-C", "CX-D")
WAIT = 60


World = EngineWorld


@pytest.fixture(scope="module")
def world(dev_services: Settings) -> Iterator[World]:
    """One engine, its topics and a projection schema for every branch of this module.
    The inventory, tracking and exceptions projections run beside the engine, as
    `oms project run` does; the tests read their tables."""
    settings = light(dev_services.replace(kafka={"topic_prefix": f"t{uuid.uuid4().hex[:8]}."}))
    stock = {(sku, "SH"): 5 for sku in SKUS}
    with engine_world(settings, stock, ["inventory", "tracking", "exceptions"]) as world:
        yield world


# --- what the world is told, and what it answers ------------------------------------


def allocate(w: World, external_id: str, sku: str) -> tuple[UUID, UUID, str]:
    """Place a paid one-unit order; (order id, shipment id, order no) once allocated."""
    order = place_order(external_id, sku)
    send(w.settings, [order])
    order_id = UUID(order.key)
    assert wait_for(lambda: bool(allocation_records(w, order_id)), WAIT, 0.3)
    [record] = allocation_records(w, order_id)
    return order_id, UUID(record["shipment_id"]), order.order_no


def allocation_records(w: World, order_id: UUID, kind: str = "Allocation") -> list[Any]:
    """The ``oms.allocation.<kind>`` records of an order on oms.allocations."""
    found = []
    for r in read_topic(w.settings, topics.name(w.settings, topics.ALLOCATIONS)):
        name, record = CODEC.decode(r.value or b"")
        if name == f"oms.allocation.{kind}" and record["order_id"] == str(order_id):
            assert r.key == record["location"].encode()  # keyed by location
            found.append(record)
    return found


def carrier_requests(w: World, tracking_no: str) -> list[Any]:
    """The interception requests for a waybill on oms.carrier.requests."""
    found = []
    for r in read_topic(w.settings, topics.name(w.settings, topics.CARRIER_REQUESTS)):
        name, record = CODEC.decode(r.value or b"")
        if r.key == tracking_no.encode():
            assert name == "oms.carrier.InterceptionRequest"
            found.append(record)
    return found


def warehouse(w: World, shipment_id: UUID, *statuses: str, tracking_no: str = "") -> None:
    """The warehouse confirms ``statuses`` (picked, packed, shipped, returned) in order."""
    topic = topics.name(w.settings, topics.WAREHOUSE_UPDATES)
    p = producer(w.settings)
    for status in statuses:
        common = {"update_id": str(uuid.uuid4()), "shipment_id": str(shipment_id)}
        if status == "returned":  # the parcel the carrier brought back is here
            name = "oms.warehouse.ParcelReturned"
            record = {**common, "location": "SH", "tracking_no": tracking_no, "at": _now()}
        else:
            name = "oms.warehouse.WarehouseUpdate"
            shipped = status == "shipped"
            record = {
                **common,
                "location": "SH",
                "status": status,
                "carrier": "SF" if shipped else None,
                "tracking_no": tracking_no if shipped else None,
                "at": _now(),
            }
        p.send(topic, key=str(shipment_id).encode(), value=CODEC.encode(name, record, topic=topic))
    p.flush()
    p.close()


def carrier(w: World, shipment_id: UUID, tracking_no: str, status: Any, reason: str) -> None:
    """The carrier's update, as the carrier adapter will send it."""
    update = RecordCarrierUpdate(
        command_id=str(uuid.uuid4()),
        shipment_id=shipment_id,
        carrier="SF",
        tracking_no=tracking_no,
        status=status,
        occurred_at=_now(),
        reason=reason,
    )
    send(w.settings, [update])


def cancel(w: World, order_id: UUID, reason: str = "customer changed their mind") -> None:
    send(w.settings, [CancelOrder(command_id=str(uuid.uuid4()), order_id=order_id, reason=reason)])


def _now() -> datetime:
    return datetime.now(UTC)


# --- what the world looks like ------------------------------------------------------


def names(w: World, aggregate_type: str, aggregate_id: UUID) -> list[str]:
    return [
        e.name for e in read_events(w.settings, aggregate_type) if e.originator_id == aggregate_id
    ]


def has(w: World, aggregate_type: str, aggregate_id: UUID, *expected: str) -> bool:
    seen = names(w, aggregate_type, aggregate_id)
    return all(name in seen for name in expected)


def stock_events(w: World, sku: str) -> list[str]:
    item = UUID(str(_item(sku)))
    return names(w, "inventory", item)


def _item(sku: str) -> str:
    from oms_events.engine.commands import item_key

    return item_key(sku, "SH")


def query(w: World, text: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of ``text`` in the projection schema."""
    with psycopg.connect(w.settings.postgres.dsn) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(w.schema)))
        return conn.execute(text, args).fetchall()


def seen(w: World, order_id: UUID, sku: str) -> tuple[str, str, tuple[int, int, int]] | None:
    """(order status, shipment status, (on hand, reserved, available) of ``sku`` at SH),
    as the tracking and inventory projections show them (None before they show it)."""
    found = query(
        w,
        "SELECT o.status, s.status, l.on_hand, l.reserved, l.available "
        "FROM order_tracking o JOIN shipment_tracking s USING (order_id), inventory_level l "
        "WHERE o.order_id = %s AND l.sku = %s AND l.location = 'SH'",
        order_id,
        sku,
    )
    if len(found) != 1:
        return None
    [row] = found
    return row[0], row[1], (row[2], row[3], row[4])


def shows(
    w: World, order_id: UUID, sku: str, expected: tuple[str, str, tuple[int, int, int]]
) -> None:
    """Wait until the projections show ``expected`` (see :func:`seen`), else fail with
    what they show."""
    if not wait_for(lambda: seen(w, order_id, sku) == expected, WAIT, 0.2):
        assert seen(w, order_id, sku) == expected


def refund_asked(w: World, order_id: UUID) -> bool:
    """The order owes its money back and the payment took the refund request."""
    if "RefundDue" not in names(w, "order", order_id):
        return False
    order_no = next(
        e.payload["order_no"]
        for e in read_events(w.settings, "order")
        if e.originator_id == order_id and e.name == "OrderPlaced"
    )
    return wait_for(
        lambda: any(
            e.name == "RefundRequested" and e.payload["refund_id"].startswith(order_no)
            for e in read_events(w.settings, "payment")
        ),
        WAIT,
        0.3,
    )


# --- the branches ---------------------------------------------------------------------


def test_cancelled_before_pick_releases_and_tells_the_warehouse(world: World) -> None:
    order_id, shipment_id, _ = allocate(world, "CA1", "CX-A")
    shows(world, order_id, "CX-A", ("allocated", "created", (5, 1, 4)))
    cancel(world, order_id)
    assert wait_for(lambda: has(world, "shipment", shipment_id, "ShipmentCancelled"), WAIT, 0.3)
    assert wait_for(lambda: "ReservationReleased" in stock_events(world, "CX-A"), WAIT, 0.3)
    [told] = allocation_records(world, order_id, "AllocationCancelled")
    assert told["shipment_id"] == str(shipment_id) and told["reason"]
    shows(world, order_id, "CX-A", ("cancelled", "cancelled", (5, 0, 5)))
    assert refund_asked(world, order_id)  # it was paid at the channel


def test_cancelled_after_pick_and_shipped_anyway_is_intercepted_and_restocked(
    world: World,
) -> None:
    order_id, shipment_id, _ = allocate(world, "CB1", "CX-B")
    warehouse(world, shipment_id, "picked", "packed")
    assert wait_for(lambda: has(world, "shipment", shipment_id, "ShipmentPacked"), WAIT, 0.3)
    cancel(world, order_id)
    assert wait_for(lambda: has(world, "shipment", shipment_id, "ShipmentCancelled"), WAIT, 0.3)
    assert wait_for(lambda: "ReservationReleased" in stock_events(world, "CX-B"), WAIT, 0.3)
    assert allocation_records(world, order_id, "AllocationCancelled")
    shows(world, order_id, "CX-B", ("cancelled", "cancelled", (5, 0, 5)))

    # The warehouse had handed the parcel over before it read the cancellation.
    warehouse(world, shipment_id, "shipped", tracking_no="SFB0001")
    assert wait_for(lambda: bool(carrier_requests(world, "SFB0001")), WAIT, 0.3)
    [request] = carrier_requests(world, "SFB0001")
    assert (request["kind"], request["carrier"], request["shipment_id"]) == (
        "intercept",
        "SF",
        str(shipment_id),
    )
    assert wait_for(lambda: "ReleasedStockShipped" in stock_events(world, "CX-B"), WAIT, 0.3)
    # The unit is on the truck, and the order stays cancelled.
    shows(world, order_id, "CX-B", ("cancelled", "shipped", (4, 0, 4)))

    carrier(world, shipment_id, "SFB0001", "returned_to_sender", "intercepted")
    assert wait_for(lambda: has(world, "shipment", shipment_id, "ShipmentReturned"), WAIT, 0.3)
    warehouse(world, shipment_id, "returned", tracking_no="SFB0001")
    assert wait_for(lambda: "StockRestocked" in stock_events(world, "CX-B"), WAIT, 0.3)
    # received 5 - shipped 1 + returned 1
    shows(world, order_id, "CX-B", ("cancelled", "returned", (5, 0, 5)))
    assert refund_asked(world, order_id)
    assert "OrderShipped" not in names(world, "order", order_id)


def test_cancelled_after_ship_and_intercepted_is_cancelled_and_restocked(world: World) -> None:
    order_id, shipment_id, order_no = allocate(world, "CC1", "CX-C")
    warehouse(world, shipment_id, "picked", "packed", "shipped", tracking_no="SFC0001")
    assert wait_for(lambda: has(world, "order", order_id, "OrderShipped"), WAIT, 0.3)
    shows(world, order_id, "CX-C", ("shipped", "shipped", (4, 0, 4)))

    # The operator's way: the CLI says what it asked for.
    said = oms(world.settings, world.schema, "order", "cancel", order_no, "--reason", "fraud")
    assert "interception requested" in said and "SFC0001" in said, said
    assert wait_for(lambda: bool(carrier_requests(world, "SFC0001")), WAIT, 0.3)
    assert has(world, "order", order_id, "CancellationRequested")
    assert not refund_asked(world, order_id)  # until the carrier answers

    carrier(world, shipment_id, "SFC0001", "returned_to_sender", "intercepted")
    assert wait_for(lambda: has(world, "order", order_id, "OrderCancelled"), WAIT, 0.3)
    assert refund_asked(world, order_id)
    # Not back on hand before the warehouse has it.
    shows(world, order_id, "CX-C", ("cancelled", "returned", (4, 0, 4)))
    warehouse(world, shipment_id, "returned", tracking_no="SFC0001")
    warehouse(world, shipment_id, "returned", tracking_no="SFC0001")  # scanned twice
    assert wait_for(lambda: has(world, "shipment", shipment_id, "ParcelReceivedBack"), WAIT, 0.3)
    assert wait_for(lambda: "StockRestocked" in stock_events(world, "CX-C"), WAIT, 0.3)
    assert stock_events(world, "CX-C").count("StockRestocked") == 1
    shows(world, order_id, "CX-C", ("cancelled", "returned", (5, 0, 5)))


def test_cancelled_after_ship_and_delivered_first_refuses_the_cancellation(
    world: World,
) -> None:
    order_id, shipment_id, _ = allocate(world, "CD1", "CX-D")
    warehouse(world, shipment_id, "picked", "packed", "shipped", tracking_no="SFD0001")
    assert wait_for(lambda: has(world, "order", order_id, "OrderShipped"), WAIT, 0.3)
    cancel(world, order_id)
    assert wait_for(lambda: bool(carrier_requests(world, "SFD0001")), WAIT, 0.3)

    carrier(world, shipment_id, "SFD0001", "delivered", "signed by 张三")
    assert wait_for(lambda: has(world, "order", order_id, "OrderDelivered"), WAIT, 0.3)
    assert has(world, "order", order_id, "InterceptionFailed")
    assert not has(world, "order", order_id, "OrderCancelled")
    assert not refund_asked(world, order_id)  # the customer keeps the goods
    shows(world, order_id, "CX-D", ("delivered", "delivered", (4, 0, 4)))
    failed = "SELECT reason FROM exception WHERE order_id = %s AND kind = 'interception_failed'"
    assert wait_for(lambda: query(world, failed, order_id) == [("signed by 张三",)], WAIT, 0.2)

    # Asked again now: refused, visibly, with the way forward.
    cancel(world, order_id)
    assert wait_for(lambda: refusal(world, order_id) == "order.cancel_too_late", WAIT, 0.3)


def test_a_cancellation_for_an_order_never_placed_is_refused_visibly(world: World) -> None:
    never = uuid.uuid4()
    cancel(world, never, "closed at Tmall before payment (TRADE_CLOSED_BY_TAOBAO)")
    assert wait_for(lambda: refusal(world, never) == "order.unknown", WAIT, 0.3)
    # An operator sees it among the exceptions (and may replay the dead letter).
    unknown = "SELECT count(*) FROM exception WHERE kind = 'dead_letter' AND code = 'order.unknown'"
    assert wait_for(lambda: query(world, unknown) == [(1,)], WAIT, 0.2)


def refusal(w: World, aggregate_id: UUID) -> str | None:
    """The code of the CommandRejected reply about ``aggregate_id`` on oms.notifications."""
    for r in read_topic(w.settings, topics.name(w.settings, topics.NOTIFICATIONS)):
        name, reply = CODEC.decode(r.value or b"")
        if name == "oms.replies.CommandRejected" and reply["aggregate_id"] == str(aggregate_id):
            return str(reply["code"])
    return None
