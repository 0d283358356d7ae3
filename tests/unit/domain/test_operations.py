"""An operator's actions on the Order: who acted, offline payments, holds."""

from __future__ import annotations

import pytest

from oms_events.domain.errors import InvalidOrder, InvalidTransition, OrderLocked
from oms_events.domain.money import Money
from oms_events.domain.operations import (
    OfflinePaymentRefused,
    check_offline_payment,
    offline_payment_id,
)
from oms_events.domain.order import OrderStatus
from tests.unit.domain.samples import cny, order


def test_an_operator_action_names_its_actor() -> None:
    o = order()
    o.record_operator_action("hold", " li.si ", "address check")
    [*_, acted] = o.collect_events()
    assert type(acted).__name__ == "OperatorActed"
    assert (acted.action, acted.actor, acted.reason) == ("hold", "li.si", "address check")
    with pytest.raises(InvalidOrder, match="actor"):
        o.record_operator_action("hold", "  ")


def test_hold_and_release_return_the_order_where_it_was() -> None:
    o = order()
    o.hold("customer asked to wait")
    assert o.status is OrderStatus.ON_HOLD
    o.release_hold()
    assert o.status is OrderStatus.PENDING and o.released_from_hold


def test_an_allocated_order_cannot_be_held_nor_edited() -> None:
    o = order(paid_at_channel="p-1")
    o.allocate([(1, o.reservation_id(1), "WH-SH")])
    with pytest.raises(InvalidTransition):
        o.hold("too late")
    with pytest.raises(OrderLocked):
        o.add_line("SKU-2", 1, cny(100))


def test_an_offline_payment_covers_what_is_owed() -> None:
    o = order()  # unpaid, ¥20.00
    check_offline_payment(o, cny(2000), "bank_transfer", "TX-1")
    check_offline_payment(o, cny(500), "cash", "TILL-1")  # a part is fine


@pytest.mark.parametrize(
    ("amount", "method", "reference", "says"),
    [
        (cny(2000), "alipay", "TX-1", "method"),
        (cny(2000), "bank_transfer", " ", "reference"),
        (Money(2000, "USD"), "bank_transfer", "TX-1", "USD"),
        (cny(0), "bank_transfer", "TX-1", "above zero"),
        (cny(2001), "bank_transfer", "TX-1", "more than"),
    ],
)
def test_an_offline_payment_is_refused_naming_the_rule(
    amount: Money, method: str, reference: str, says: str
) -> None:
    with pytest.raises(OfflinePaymentRefused, match=says):
        check_offline_payment(order(), amount, method, reference)


def test_a_paid_or_closed_order_takes_no_offline_payment() -> None:
    paid = order(paid_at_channel="p-1")
    with pytest.raises(OfflinePaymentRefused, match="more than"):
        check_offline_payment(paid, cny(1), "cash", "T")
    closed = order()
    closed.cancel("customer")
    with pytest.raises(OfflinePaymentRefused, match="cancelled"):
        check_offline_payment(closed, cny(1), "cash", "T")


def test_the_same_reference_is_the_same_payment() -> None:
    assert offline_payment_id("cash", " T-1 ") == offline_payment_id("cash", "T-1")
