"""The full-life audit on hand-made events: each invariant can fail, and says where."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from oms_events.audit import audit, order_statuses
from oms_events.eventlog import EventRecord

T0 = datetime(2026, 12, 1, tzinfo=UTC)
ITEM, SHIPMENT, ORDER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def ev(name: str, originator: uuid.UUID, **payload: Any) -> EventRecord:
    return EventRecord("x", name, originator, 1, T0, payload)


def stock(shipped: int = 2, written_off: int = 1) -> list[EventRecord]:
    return [
        ev("ItemRegistered", ITEM, sku="TEA", location="SH"),
        ev("StockReceived", ITEM, quantity=10),
        ev("StockReserved", ITEM, quantity=shipped, reservation_id=uuid.uuid4()),
        ev("ReservationCommitted", ITEM, quantity=shipped),
        ev("StockAdjusted", ITEM, delta=-written_off),
        ev("StockRestocked", ITEM, quantity=1),
    ]


def shipments(quantity: int = 2) -> list[EventRecord]:
    line = {"line_no": 1, "sku": "TEA", "quantity": quantity}
    return [
        ev("ShipmentCreated", SHIPMENT, order_id=ORDER, location="SH", lines=[line]),
        ev("ShipmentShipped", SHIPMENT, carrier="SF", tracking_no="SF1"),
    ]


def orders(*names: str, order_no: str = "SIM-r1-1") -> list[EventRecord]:
    return [ev("OrderPlaced", ORDER, order_no=order_no), *(ev(n, ORDER) for n in names)]


def test_balanced_books_and_ended_orders_have_no_problems() -> None:
    found = audit(stock(), shipments(), orders("OrderCancelled"), projected={("TEA", "SH"): (8, 0)})
    assert found.problems == []
    book = found.stock[("TEA", "SH")]
    assert (book.received, book.restocked, book.written_off, book.shipped) == (10, 1, 1, 2)
    assert book.balance == 8


def test_a_projection_that_disagrees_is_named_with_the_sums() -> None:
    found = audit(stock(), shipments(), [], projected={("TEA", "SH"): (9, 0)})
    assert found.problems == [
        "TEA@SH: received 10 + restocked 1 + adjusted -1 - shipped 2 = 8 on hand, 0 reserved; "
        "inventory_level says 9 on hand, 0 reserved"
    ]


def test_inventory_and_shipments_must_agree_on_what_left() -> None:
    found = audit(stock(shipped=2), shipments(quantity=3), [])
    assert found.problems == ["TEA@SH: inventory committed 2 units, shipments shipped 3"]


def test_available_below_zero_is_caught() -> None:
    events = [
        ev("ItemRegistered", ITEM, sku="TEA", location="SH"),
        ev("StockReceived", ITEM, quantity=1),
        ev("StockReserved", ITEM, quantity=2, reservation_id=uuid.uuid4()),
    ]
    found = audit(events, [], [])
    assert found.problems == ["TEA@SH: available or reserved below zero after 1 event(s)"]


def test_orders_not_at_an_end_are_counted_by_status() -> None:
    found = audit([], [], orders("OrderAllocated", "OrderShipped"))
    assert found.problems == ["1 order(s) not at an end: shipped (e.g. SIM-r1-1)"]


def test_statuses_follow_holds_returns_and_the_run_prefix() -> None:
    held = orders("OrderHeld", "OrderReleased", "OrderAllocated")
    assert order_statuses(held) == {str(ORDER): "allocated"}
    ret = uuid.uuid4()
    returns = [ev("ReturnRequested", ret, order_id=ORDER), ev("ReturnRefunded", ret)]
    delivered = orders("OrderShipped", "OrderDelivered")
    assert order_statuses(delivered, returns) == {str(ORDER): "returned"}
    assert order_statuses(orders(order_no="OMS-1"), order_no_prefix="SIM-r1-") == {}


def test_counts_transfers_and_late_shipments_are_folded() -> None:
    events = [
        *stock(),  # 8 on hand
        ev("StockCounted", ITEM, counted=7, delta=-1),
        ev("TransferDispatched", ITEM, quantity=3, transfer_id=uuid.uuid4()),
        ev("TransferReceived", ITEM, quantity=2, transfer_id=uuid.uuid4()),
        ev("ReleasedStockShipped", ITEM, quantity=1, reservation_id=uuid.uuid4()),
    ]
    found = audit(events, shipments(quantity=3), [], projected={("TEA", "SH"): (5, 0)})
    assert found.problems == []
    book = found.stock[("TEA", "SH")]
    assert (book.written_off, book.transferred_out, book.transferred_in) == (2, 3, 2)


def test_an_inventory_event_the_audit_does_not_know_is_a_problem() -> None:
    found = audit([*stock(), ev("StockTeleported", ITEM, quantity=5)], shipments(), [])
    assert found.problems == ["inventory event StockTeleported is not folded by the audit"]
