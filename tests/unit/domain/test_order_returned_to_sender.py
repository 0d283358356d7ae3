"""A parcel the carrier brings back undelivered, not on our interception (拒收 refused at
the door, undeliverable after failed attempts): the order waits for it to be back at the
warehouse, then ends — returned to sender and refunded, or, when another parcel was
delivered, delivered with only the returned lines refunded."""

from __future__ import annotations

from typing import Any

import pytest

from oms_events.domain.errors import InvalidOrder
from oms_events.domain.order import Order, OrderStatus, PaymentMethod
from tests.unit.domain.samples import SCANNED_AT, cny, line, order


def names(o: Order) -> list[str]:
    return [type(e).__name__ for e in o.collect_events()]


def shipped(parcels: int = 1, **kwargs: Any) -> Order:
    """Shipped in ``parcels`` parcels (S-1: line 1, 2 x 10.00; S-2: line 2, 1 x 5.00)."""
    lines = [line(1), line(2, "SKU-2", 1, 500)][:parcels] if parcels == 2 else [line(1)]
    o = order(lines=lines, **kwargs)
    o.allocate([(n, o.reservation_id(n), f"WH-{n}") for n in o.lines])
    for n in o.lines:
        o.ship_line(n, f"S-{n}")
    o.collect_events()
    return o


def test_a_refused_parcel_waits_for_the_warehouse_then_closes_the_order_refunded() -> None:
    o = shipped(paid_at_channel="tmall:T-1001")
    assert o.return_shipment("S-1", "拒收", False, SCANNED_AT)
    assert names(o) == ["ShipmentReturnedToSender"]
    assert o.status is OrderStatus.SHIPPED  # the goods are not back yet
    assert o.return_shipment("S-1", "", True, SCANNED_AT)
    events = o.collect_events()
    assert [type(e).__name__ for e in events] == [
        "ReturnedParcelReceived",
        "OrderReturnedToSender",
        "RefundDue",
    ]
    assert o.status is OrderStatus.RETURNED_TO_SENDER and o.close_reason == "拒收"
    assert events[-1].amount == cny(2000).to_dict()  # everything paid goes back
    assert o.amount_held.is_zero


def test_told_again_or_after_the_order_ended_changes_nothing() -> None:
    o = shipped(paid_at_channel="tmall:T-1001")
    o.return_shipment("S-1", "拒收", False, SCANNED_AT)
    assert not o.return_shipment("S-1", "拒收", False, SCANNED_AT)
    o.return_shipment("S-1", "拒收", True, SCANNED_AT)
    o.collect_events()
    assert not o.return_shipment("S-1", "拒收", True, SCANNED_AT)
    o.cancel("customer changed mind")  # closed already, the money owed back: nothing
    assert names(o) == []


def test_the_warehouse_heard_first_counts_as_both_steps() -> None:
    o = shipped(paid_at_channel="tmall:T-1001")
    o.return_shipment("S-1", "undeliverable", True, SCANNED_AT)
    assert names(o)[:3] == [
        "ShipmentReturnedToSender",
        "ReturnedParcelReceived",
        "OrderReturnedToSender",
    ]


def test_a_cod_order_refused_at_the_door_closes_with_nothing_to_refund() -> None:
    o = shipped(payment_method=PaymentMethod.COD)
    o.return_shipment("S-1", "拒收", True, SCANNED_AT)
    assert names(o) == [
        "ShipmentReturnedToSender",
        "ReturnedParcelReceived",
        "OrderReturnedToSender",
    ]
    assert o.status is OrderStatus.RETURNED_TO_SENDER


def test_a_parcel_of_another_order_is_refused() -> None:
    o = shipped()
    with pytest.raises(InvalidOrder):
        o.return_shipment("S-9", "拒收", False, SCANNED_AT)


def test_one_parcel_delivered_one_refused_refunds_the_refused_lines_only() -> None:
    o = shipped(2, paid_at_channel="tmall:T-1001", shipping_fee=800)
    o.deliver_shipment("S-1", SCANNED_AT)
    o.return_shipment("S-2", "拒收", False, SCANNED_AT)
    assert o.status is OrderStatus.SHIPPED  # S-2 not back yet
    o.collect_events()
    o.return_shipment("S-2", "拒收", True, SCANNED_AT)
    events = o.collect_events()
    assert [type(e).__name__ for e in events] == [
        "ReturnedParcelReceived",
        "RefundAgreed",
        "OrderDelivered",
    ]
    refund = events[1]
    assert refund.amount == cny(500).to_dict()  # line 2 only, not the shipping
    assert [(p["line_no"], p["quantity"]) for p in refund.lines] == [(2, 1)]
    assert o.status is OrderStatus.DELIVERED and o.completable  # completes after its window
    o.complete()
    assert o.status is OrderStatus.COMPLETED


def test_the_refused_parcel_back_before_the_other_is_delivered_settles_on_delivery() -> None:
    o = shipped(2, paid_at_channel="tmall:T-1001")
    o.return_shipment("S-2", "拒收", True, SCANNED_AT)
    assert o.status is OrderStatus.SHIPPED
    o.collect_events()
    o.deliver_shipment("S-1", SCANNED_AT)
    assert names(o) == ["OrderShipmentDelivered", "RefundAgreed", "OrderDelivered"]
    assert o.delivered_at == SCANNED_AT


def test_a_cod_order_with_one_parcel_refused_owes_only_what_was_delivered() -> None:
    o = shipped(2, payment_method=PaymentMethod.COD)
    o.deliver_shipment("S-1", SCANNED_AT)
    o.record_payment("cod:SF:SF1", cny(2000))  # the courier's cash for line 1
    o.return_shipment("S-2", "拒收", True, SCANNED_AT)
    assert "RefundAgreed" not in names(o)  # nothing was paid for line 2
    assert o.owed == cny(2000) and o.completable


def test_a_cod_order_whose_refused_parcel_carried_the_shipping_owes_the_rest_only() -> None:
    o = shipped(2, payment_method=PaymentMethod.COD, shipping_fee=800)
    o.deliver_shipment("S-2", SCANNED_AT)
    o.record_payment("cod:SF:SF2", cny(500))  # the courier's cash for line 2 alone
    o.return_shipment("S-1", "拒收", True, SCANNED_AT)  # line 1 and the shipping fee
    assert "RefundAgreed" not in names(o)
    assert o.owed == cny(500) and o.completable


def test_a_cod_order_paid_in_full_at_one_door_refunds_the_refused_lines() -> None:
    o = shipped(2, payment_method=PaymentMethod.COD, shipping_fee=800)
    o.deliver_shipment("S-2", SCANNED_AT)
    o.record_payment("cod:SF:SF2", o.total)  # the courier took everything
    o.return_shipment("S-1", "拒收", True, SCANNED_AT)
    events = o.collect_events()
    [refund] = [e for e in events if type(e).__name__ == "RefundAgreed"]
    assert refund.amount == cny(2000).to_dict()  # line 1; the shipping is not refunded
    assert o.completable
