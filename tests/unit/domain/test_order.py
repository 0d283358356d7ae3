"""Order: the lifecycle, the rules on change, and what each command records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from oms_events.domain import (
    Address,
    Customer,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    PaymentMethod,
)
from oms_events.domain.errors import (
    CancelTooLate,
    InvalidAddress,
    InvalidOrder,
    InvalidTransition,
    LastLine,
    LineAlreadyShipped,
    LinesNotReserved,
    NotFullyPaid,
    OrderLocked,
    ReasonRequired,
    StaleReservation,
    UnknownLine,
)
from oms_events.domain.order import InterceptionOutcome
from tests.unit.domain.samples import (
    PLACED_AT,
    address,
    cny,
    line,
    order,
    replay,
    reserve_all,
    state,
)


def names(o: Order) -> list[str]:
    """Names of the events recorded since the last collect, collecting them."""
    return [type(e).__name__ for e in o.collect_events()]


def allocated_order(**kwargs: Any) -> Order:
    o = order(lines=[line(1), line(2, "SKU-2", 1, 500)], **kwargs)
    reserve_all(o)
    o.confirm()
    o.allocate()
    o.collect_events()
    return o


# --- placing -----------------------------------------------------------------------


def test_placing_records_order_placed_with_plain_values() -> None:
    o = order(
        lines=[line(1, quantity=2, price=1000, discount=150, promotions=["DOUBLE11"])],
        shipping_fee=800,
    )
    (placed,) = o.collect_events()
    assert type(placed).__name__ == "OrderPlaced"
    assert placed.lines == [  # type: ignore[attr-defined]
        {
            "line_no": 1,
            "sku": "SKU-1",
            "quantity": 2,
            "unit_price": {"amount": 1000, "currency": "CNY"},
            "discount": {"amount": 150, "currency": "CNY"},
            "promotions": ["DOUBLE11"],
        }
    ]
    assert o.status is OrderStatus.PENDING
    assert o.total == cny(2000 - 150 + 800)


def test_the_same_channel_order_always_gets_the_same_id() -> None:
    assert order().id == order().id == Order.create_id("tmall", "T-1001")
    assert order(external_id="T-1002").id != order().id
    assert Order.create_id("jd", "T-1001") != Order.create_id("tmall", "T-1001")


def test_an_order_needs_lines() -> None:
    with pytest.raises(InvalidOrder):
        order(lines=[])


def test_line_numbers_must_be_unique() -> None:
    with pytest.raises(InvalidOrder):
        order(lines=[line(1), line(1, "SKU-2")])


def test_all_amounts_must_share_one_currency() -> None:
    usd_line = OrderLine(2, "SKU-2", 1, Money(100, "USD"), Money(0, "USD"))
    with pytest.raises(InvalidOrder):
        order(lines=[line(1), usd_line])


def test_placed_at_must_carry_a_time_zone() -> None:
    with pytest.raises(InvalidOrder):
        Order.place(
            order_no="SO-1",
            channel="web",
            external_id="W-1",
            customer=Customer("李四", phone="13900000000"),
            address=address(),
            lines=[line()],
            payment_method=PaymentMethod.CARD,
            placed_at=datetime(2025, 1, 1),
        )


def test_a_chinese_address_needs_province_and_city_but_not_a_district() -> None:
    with pytest.raises(InvalidAddress):
        Address(line1="望京街 10 号", country="CN", province="北京市")
    with pytest.raises(InvalidAddress):
        Address(line1="望京街 10 号", country="CN", city="北京市")
    # 东莞 has no districts; a Shopify order has no district field.
    Address(line1="南城街道 鸿福路 1 号", country="CN", city="东莞市", province="广东省")
    Address(line1="1 Raffles Place", country="SG", postcode="048616")


def test_a_discount_cannot_exceed_the_line_price() -> None:
    with pytest.raises(InvalidOrder):
        line(1, quantity=1, price=100, discount=101)


# --- reservation and confirmation ----------------------------------------------------


def test_confirming_needs_every_line_reserved() -> None:
    o = order(lines=[line(1), line(2, "SKU-2")])
    o.reserve_line(1, o.reservation_id(1), "WH-SH")
    with pytest.raises(LinesNotReserved) as raised:
        o.confirm()
    assert raised.value.context["line_nos"] == [2]
    o.reserve_line(2, o.reservation_id(2), "WH-BJ")
    o.confirm()
    assert o.status is OrderStatus.CONFIRMED
    assert names(o) == ["OrderPlaced", "LinesReserved", "LinesReserved", "OrderConfirmed"]


def test_one_answer_reserves_several_lines_in_one_event() -> None:
    o = order(lines=[line(1), line(2, "SKU-2"), line(3, "SKU-3")])
    o.collect_events()
    o.reserve_lines([(1, o.reservation_id(1), "WH-SH"), (2, o.reservation_id(2), "WH-BJ")])
    [reserved] = o.collect_events()
    assert type(reserved).__name__ == "LinesReserved"
    assert o.reservations == {1: (o.reservation_id(1), "WH-SH"), 2: (o.reservation_id(2), "WH-BJ")}
    o.reserve_lines([(1, o.reservation_id(1), "WH-SH")])  # the same answer again
    assert names(o) == []


def test_the_answer_that_completes_the_order_confirms_and_allocates_in_one_event() -> None:
    o = order(lines=[line(1), line(2, "SKU-2")], paid_at_channel="tmall:T-1001")
    o.reserve_line(1, o.reservation_id(1), "WH-SH")
    o.collect_events()
    with pytest.raises(LinesNotReserved):
        o.allocate()  # line 2 holds nothing yet
    o.allocate([(2, o.reservation_id(2), "WH-BJ")])
    assert names(o) == ["OrderAllocated"]
    assert o.status is OrderStatus.ALLOCATED
    assert o.reservations[2] == (o.reservation_id(2), "WH-BJ")
    assert o.allocations == {1: "WH-SH", 2: "WH-BJ"}


def test_an_order_paid_at_the_channel_records_the_payment_in_order_placed() -> None:
    o = order(paid_at_channel="tmall:T-1001")
    assert names(o) == ["OrderPlaced"]
    assert o.is_paid and o.payments == {"tmall:T-1001": o.total}
    assert not order(payment_method=PaymentMethod.COD, paid_at_channel="x").payments


def test_a_redelivered_reservation_is_ignored() -> None:
    o = order()
    o.reserve_line(1, o.reservation_id(1), "WH-SH")
    o.collect_events()
    o.reserve_line(1, o.reservation_id(1), "WH-SH")
    assert names(o) == []


def test_a_reservation_for_an_old_quantity_is_stale() -> None:
    o = order()
    old = o.reservation_id(1)
    o.change_quantity(1, 5)
    assert o.reservation_id(1) != old
    with pytest.raises(StaleReservation):
        o.reserve_line(1, old, "WH-SH")


def test_reserving_an_unknown_line_is_refused() -> None:
    o = order()
    with pytest.raises(UnknownLine):
        o.reserve_line(9, o.reservation_id(1), "WH-SH")


def test_a_pre_order_waits_for_stock_then_confirms() -> None:
    o = order()
    o.pre_order()
    assert o.status is OrderStatus.PRE_ORDER
    reserve_all(o)
    o.confirm()
    assert o.status is OrderStatus.CONFIRMED


def test_rejecting_releases_what_was_reserved() -> None:
    o = order(lines=[line(1), line(2, "SKU-2")])
    o.reserve_line(1, o.reservation_id(1), "WH-SH")
    o.reject("stock.insufficient")
    rejected = o.collect_events()[-1]
    assert type(rejected).__name__ == "OrderRejected"
    assert [r["line_no"] for r in rejected.releases] == [1]  # type: ignore[attr-defined]
    assert o.status is OrderStatus.REJECTED


# --- hold ----------------------------------------------------------------------------


def test_release_returns_a_held_order_to_where_it_was() -> None:
    o = order()
    reserve_all(o)
    o.confirm()
    o.hold("manual review")
    assert o.status is OrderStatus.ON_HOLD
    with pytest.raises(InvalidTransition):
        o.allocate()
    o.release_hold()
    assert o.status is OrderStatus.CONFIRMED
    assert o.released_from_hold


def test_hold_needs_a_reason() -> None:
    with pytest.raises(ReasonRequired):
        order().hold(" ")


# --- changes before allocation -----------------------------------------------------------


def test_changing_quantity_releases_the_old_reservation_and_unconfirms() -> None:
    o = order(lines=[line(1, quantity=2, discount=200)])
    reserve_all(o)
    o.confirm()
    old = o.reservation_id(1)
    o.collect_events()
    o.change_quantity(1, 3)
    (changed,) = o.collect_events()
    assert type(changed).__name__ == "QuantityChanged"
    assert changed.release["reservation_id"] == old  # type: ignore[attr-defined]
    assert changed.discount == {"amount": 300, "currency": "CNY"}  # type: ignore[attr-defined]
    assert o.status is OrderStatus.PENDING
    assert o.unreserved_lines() == [1]
    assert o.total == cny(3 * 1000 - 300)


def test_changing_to_the_same_quantity_records_nothing() -> None:
    o = order()
    o.collect_events()
    o.change_quantity(1, 2)
    assert names(o) == []


def test_added_lines_get_fresh_numbers_even_after_a_removal() -> None:
    o = order(lines=[line(1), line(2, "SKU-2")])
    assert o.add_line("SKU-3", 1, cny(300)) == 3
    o.remove_line(3)
    assert o.add_line("SKU-4", 1, cny(300)) == 4


def test_the_last_line_cannot_be_removed() -> None:
    with pytest.raises(LastLine):
        order().remove_line(1)


def test_a_paid_order_that_grows_owes_the_difference() -> None:
    o = order()
    o.record_payment("pay-1", o.total)
    o.collect_events()
    o.add_line("SKU-3", 1, cny(300))
    events = o.collect_events()
    assert [type(e).__name__ for e in events] == ["LineAdded", "PaymentDue"]
    assert events[1].amount == {"amount": 300, "currency": "CNY"}  # type: ignore[attr-defined]


def test_a_paid_order_that_shrinks_is_owed_a_refund() -> None:
    o = order(lines=[line(1, quantity=2, price=1000)])
    o.record_payment("pay-1", o.total)
    o.collect_events()
    o.change_quantity(1, 1)
    events = o.collect_events()
    assert [type(e).__name__ for e in events] == ["QuantityChanged", "RefundDue"]
    assert events[1].amount == {"amount": 1000, "currency": "CNY"}  # type: ignore[attr-defined]


def test_an_unpaid_order_that_changes_owes_nothing_yet() -> None:
    o = order()
    o.collect_events()
    o.add_line("SKU-3", 1, cny(300))
    assert names(o) == ["LineAdded"]


def test_a_new_shipping_fee_with_the_address_changes_the_total() -> None:
    o = order(shipping_fee=0)
    o.record_payment("pay-1", o.total)
    o.change_address(address(), shipping_fee=cny(1200))
    assert o.total.amount == 2000 + 1200
    assert names(o)[-2:] == ["AddressChanged", "PaymentDue"]


@pytest.mark.parametrize(
    "change",
    [
        lambda o: o.add_line("SKU-3", 1, cny(300)),
        lambda o: o.remove_line(2),
        lambda o: o.change_quantity(1, 9),
        lambda o: o.change_address(address()),
    ],
    ids=["add", "remove", "quantity", "address"],
)
def test_nothing_changes_after_allocation(change: Any) -> None:
    o = allocated_order()
    before = state(o)
    with pytest.raises(OrderLocked):
        change(o)
    assert state(o) == before
    assert o.collect_events() == []


# --- cancellation --------------------------------------------------------------------


def test_cancelling_releases_reservations_and_refunds_what_was_paid() -> None:
    o = order()
    reserve_all(o)
    o.record_payment("pay-1", o.total)
    o.collect_events()
    o.cancel("customer changed mind")
    events = o.collect_events()
    assert [type(e).__name__ for e in events] == ["OrderCancelled", "RefundDue"]
    assert len(events[0].releases) == 1  # type: ignore[attr-defined]
    assert o.status is OrderStatus.CANCELLED and o.reservations == {}


def test_an_allocated_order_can_still_be_cancelled() -> None:
    o = allocated_order()
    o.cancel("fraud")
    assert o.status is OrderStatus.CANCELLED


def shipped_order(paid: bool = True) -> Order:
    """Two lines, each in its own parcel, both shipped (paid at the channel)."""
    o = order(
        lines=[line(1), line(2, "SKU-2", 1, 500)],
        paid_at_channel="tmall:T-1001" if paid else None,
    )
    o.allocate([(1, o.reservation_id(1), "WH-SH"), (2, o.reservation_id(2), "WH-BJ")])
    o.ship_line(1, "S-1")
    o.ship_line(2, "S-2")
    o.collect_events()
    return o


def test_cancelling_a_shipped_order_asks_for_its_parcels_to_be_intercepted() -> None:
    o = shipped_order()
    o.cancel("customer changed mind")
    [requested] = o.collect_events()
    assert type(requested).__name__ == "CancellationRequested"
    assert requested.shipment_ids == ["S-1", "S-2"]  # type: ignore[attr-defined]
    assert o.status is OrderStatus.SHIPPED and o.cancelling == "customer changed mind"
    o.cancel("asked again")  # the operator's retry: nothing more
    assert names(o) == []


def test_every_parcel_intercepted_cancels_the_order_and_refunds_it() -> None:
    o = shipped_order()
    o.cancel("customer changed mind")
    o.collect_events()
    o.record_interception("S-1", InterceptionOutcome.INTERCEPTED, "")
    assert names(o) == ["ShipmentIntercepted"] and o.status is OrderStatus.SHIPPED
    o.record_interception("S-1", InterceptionOutcome.INTERCEPTED, "")  # the carrier repeats
    assert names(o) == []
    o.record_interception("S-2", InterceptionOutcome.INTERCEPTED, "")
    events = o.collect_events()
    assert [type(e).__name__ for e in events] == [
        "ShipmentIntercepted",
        "OrderCancelled",
        "RefundDue",
    ]
    assert events[1].releases == []  # type: ignore[attr-defined]  # the goods had left
    assert events[2].amount == o.total.to_dict()  # type: ignore[attr-defined]
    assert o.status is OrderStatus.CANCELLED and o.close_reason == "customer changed mind"


def test_a_parcel_delivered_before_the_interception_refuses_the_cancellation() -> None:
    o = shipped_order()
    o.cancel("customer changed mind")
    o.collect_events()
    o.record_interception("S-2", InterceptionOutcome.DELIVERED, "signed by 张三")
    assert names(o) == ["InterceptionFailed"] and o.cancelling is None
    # The carrier's delivered scans deliver the order (the intercepted parcel S-1 too:
    # the cancellation was refused, so nothing more comes of its interception).
    o.deliver_shipment("S-2", PLACED_AT)
    o.deliver_shipment("S-1", PLACED_AT)
    assert names(o) == ["OrderShipmentDelivered", "OrderDelivered"]
    assert o.status is OrderStatus.DELIVERED
    assert o.amount_held == o.total  # nothing refunded: a return case now
    with pytest.raises(CancelTooLate) as raised:
        o.cancel("customer changed mind")
    assert raised.value.code == "order.cancel_too_late"
    o.deliver()  # the carrier's own delivered report, after ours: nothing more
    assert names(o) == []


def test_a_delivery_heard_before_the_interceptions_outcome_refuses_the_cancellation() -> None:
    o = shipped_order()
    o.cancel("customer changed mind")
    o.collect_events()
    o.deliver_shipment("S-1", PLACED_AT)
    assert names(o) == ["InterceptionFailed", "OrderShipmentDelivered"]
    o.record_interception("S-1", InterceptionOutcome.DELIVERED, "signed")  # nothing more
    o.deliver_shipment("S-2", PLACED_AT)
    assert names(o) == ["OrderDelivered"] and o.cancelling is None


def test_a_parcel_of_an_order_cancelled_before_it_shipped_delivers_nothing() -> None:
    o = allocated_order()
    o.cancel("fraud")
    o.collect_events()
    assert o.deliver_shipment("S-9", PLACED_AT) is False  # the interception's outcome says it
    assert names(o) == [] and o.status is OrderStatus.CANCELLED


def test_a_delivery_nobody_asked_to_intercept_is_no_interception_outcome() -> None:
    o = shipped_order()
    o.record_interception("S-1", InterceptionOutcome.DELIVERED, "")
    o.record_interception("S-1", InterceptionOutcome.INTERCEPTED, "")
    assert names(o) == []


def test_a_cancelled_order_whose_late_parcel_was_delivered_says_so() -> None:
    o = allocated_order()
    o.cancel("fraud")
    o.collect_events()
    o.record_interception("S-1", InterceptionOutcome.DELIVERED, "signed")
    assert names(o) == ["InterceptionFailed"]
    assert o.status is OrderStatus.CANCELLED


def test_cancelling_a_partly_shipped_order_releases_the_rest_once_intercepted() -> None:
    o = allocated_order()
    o.ship_line(1, "S-1")
    o.collect_events()
    o.cancel("customer changed mind")
    [requested] = o.collect_events()
    assert requested.shipment_ids == ["S-1"]  # type: ignore[attr-defined]
    assert list(o.unshipped_reservations()) == [2]
    o.record_interception("S-1", InterceptionOutcome.INTERCEPTED, "")
    cancelled = o.collect_events()[-1]
    assert [r["line_no"] for r in cancelled.releases] == [2]  # type: ignore[attr-defined]


def test_cancelling_twice_records_once() -> None:
    o = allocated_order()
    o.cancel("fraud")
    o.cancel("fraud")
    assert names(o) == ["OrderCancelled"]


def test_cancelling_needs_a_reason() -> None:
    with pytest.raises(ReasonRequired):
        order().cancel("")


def test_a_payment_for_a_cancelled_order_is_owed_back() -> None:
    o = order()
    o.cancel("customer changed mind")
    o.collect_events()
    o.record_payment("late-pay", cny(2000))
    assert names(o) == ["PaymentRecorded", "RefundDue"]


def test_a_payment_recorded_twice_counts_once() -> None:
    o = order()
    o.record_payment("pay-1", cny(500))
    o.record_payment("pay-1", cny(500))
    assert o.amount_paid == cny(500)


# --- fulfilment ----------------------------------------------------------------------


def test_a_shipment_with_every_line_is_one_order_shipped() -> None:
    o = allocated_order()
    o.ship_lines([1, 2], "S-1")
    assert names(o) == ["OrderShipped"]
    assert o.status is OrderStatus.SHIPPED and o.shipments == {1: "S-1", 2: "S-1"}
    o.ship_lines([1, 2], "S-1")  # the warehouse confirmed twice
    assert names(o) == []


def test_each_parcel_of_a_split_order_is_priced_by_its_lines_and_one_carries_shipping() -> None:
    o = allocated_order(payment_method=PaymentMethod.COD, shipping_fee=800)
    o.ship_lines([2], "S-2")
    # Line 1 not shipped yet: S-2 is one parcel of several all the same.
    assert o.parcel_price("S-2") == cny(500)
    o.ship_lines([1], "S-1")
    assert o.parcel_price("S-1") == cny(2000 + 800)  # the lowest line carries the fee
    assert o.parcel_price("S-1") + cny(500) == o.total
    whole = allocated_order()
    whole.ship_lines([1, 2], "S-1")
    assert whole.parcel_price("S-1") is None  # one parcel: the whole order


def test_shipping_line_by_line_then_delivered_and_completed() -> None:
    o = allocated_order(payment_method=PaymentMethod.COD)
    assert o.allocations == {1: "WH-SH", 2: "WH-SH"}
    o.ship_line(1, "S-1")
    assert o.status is OrderStatus.PARTIALLY_SHIPPED
    o.ship_line(2, "S-2")
    assert o.status is OrderStatus.SHIPPED
    assert names(o) == ["LinesShipped", "OrderShipped"]
    assert o.shipments == {1: "S-1", 2: "S-2"}
    o.deliver()
    with pytest.raises(NotFullyPaid):
        o.complete()  # cash not collected yet
    o.record_payment("cod-1", o.total)
    o.complete()
    assert o.status is OrderStatus.COMPLETED


def test_a_line_shipped_twice_by_the_same_shipment_is_ignored() -> None:
    o = allocated_order()
    o.ship_line(1, "S-1")
    o.collect_events()
    o.ship_line(1, "S-1")
    assert names(o) == []
    with pytest.raises(LineAlreadyShipped):
        o.ship_line(1, "S-9")


def test_an_order_cannot_ship_before_allocation() -> None:
    o = order()
    with pytest.raises(InvalidTransition):
        o.ship_line(1, "S-1")


def test_delivery_needs_a_shipped_order() -> None:
    with pytest.raises(InvalidTransition):
        allocated_order().deliver()


def test_allocation_records_the_location_and_reservation_of_every_line() -> None:
    o = order()
    reserve_all(o, "WH-GZ")
    o.confirm()
    o.collect_events()
    o.allocate()
    (allocated,) = o.collect_events()
    assert allocated.allocations == [  # type: ignore[attr-defined]
        {
            "line_no": 1,
            "sku": "SKU-1",
            "quantity": 2,
            "location": "WH-GZ",
            "reservation_id": o.reservation_id(1),
        }
    ]


# --- replay --------------------------------------------------------------------------


def test_replaying_the_events_rebuilds_the_same_order() -> None:
    o = order(lines=[line(1), line(2, "SKU-2")])
    events = list(o.collect_events())
    o.record_payment("pay-1", o.total)
    reserve_all(o)
    o.change_quantity(2, 4)
    o.add_line("SKU-3", 2, cny(100), cny(20), ["VIP"])
    reserve_all(o)
    o.hold("review")
    o.release_hold()
    o.confirm()
    o.allocate()
    o.ship_line(1, "S-1")
    events += o.collect_events()
    rebuilt = replay(events)
    assert state(rebuilt) == state(o)
    assert rebuilt.placed_at == PLACED_AT  # type: ignore[attr-defined]


def test_an_order_is_delivered_when_every_shipment_is_and_says_when() -> None:
    o = allocated_order()
    o.ship_line(1, "S-1")
    first, last = datetime(2026, 11, 29, 7, tzinfo=UTC), datetime(2026, 11, 30, 9, tzinfo=UTC)
    assert o.deliver_shipment("S-1", first)  # the other line has not even shipped
    o.ship_line(2, "S-2")
    assert o.status is OrderStatus.SHIPPED
    assert not o.deliver_shipment("S-1", first)  # the carrier said it twice
    o.deliver_shipment("S-2", last)
    assert (o.status, o.delivered_at) == (OrderStatus.DELIVERED, last)
    assert names(o) == ["LinesShipped", "OrderShipmentDelivered", "OrderShipped", "OrderDelivered"]


def test_a_shipment_of_another_order_cannot_deliver_it() -> None:
    o = allocated_order()
    o.ship_line(1, "S-1")
    with pytest.raises(InvalidOrder):
        o.deliver_shipment("S-9", datetime(2026, 11, 29, tzinfo=UTC))
