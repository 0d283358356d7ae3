"""Workflow: settings as data, and the decision it gives for an order."""

from __future__ import annotations

from datetime import timedelta

import pytest

from oms_events.domain import Decision, Money, PaymentMethod, ShortagePolicy, Workflow
from oms_events.domain.errors import InvalidWorkflow
from tests.unit.domain.samples import PLACED_AT, cny, order, reserve_all


def test_an_order_waits_for_stock_until_every_line_is_reserved() -> None:
    assert Workflow().decide(order()) is Decision.WAIT_FOR_STOCK


def test_a_reserved_unpaid_prepaid_order_waits_for_payment() -> None:
    o = order(payment_method=PaymentMethod.WECHAT_PAY)
    reserve_all(o)
    assert Workflow().decide(o) is Decision.WAIT_FOR_PAYMENT


def test_a_reserved_cod_order_is_confirmed_without_payment() -> None:
    o = order(payment_method=PaymentMethod.COD)
    reserve_all(o)
    assert Workflow().decide(o) is Decision.CONFIRM


def test_a_reserved_paid_order_is_confirmed() -> None:
    o = order()
    reserve_all(o)
    o.record_payment("pay-1", o.total)
    assert Workflow().decide(o) is Decision.CONFIRM


def test_an_order_above_the_threshold_goes_on_hold() -> None:
    o = order(payment_method=PaymentMethod.COD)  # total 2000
    reserve_all(o)
    assert Workflow(hold_above=cny(1999)).decide(o) is Decision.HOLD
    assert Workflow(hold_above=cny(2000)).decide(o) is Decision.CONFIRM


def test_a_flagged_customer_is_reviewed_by_phone_or_account() -> None:
    o = order(payment_method=PaymentMethod.COD, phone="13811112222")
    reserve_all(o)
    assert Workflow(manual_review=frozenset({"13811112222"})).decide(o) is Decision.REVIEW
    assert Workflow(manual_review=frozenset({"zhangsan"})).decide(o) is Decision.REVIEW


def test_an_order_released_by_an_operator_is_not_held_again() -> None:
    o = order(payment_method=PaymentMethod.COD)
    reserve_all(o)
    workflow = Workflow(hold_above=cny(1), auto_confirm=False)
    o.hold("amount")
    o.release_hold()
    assert workflow.decide(o) is Decision.CONFIRM


def test_without_auto_confirm_a_person_confirms() -> None:
    o = order(payment_method=PaymentMethod.COD)
    reserve_all(o)
    assert Workflow(auto_confirm=False).decide(o) is Decision.REVIEW


def test_nothing_to_decide_once_confirmed() -> None:
    o = order(payment_method=PaymentMethod.COD)
    reserve_all(o)
    o.confirm()
    assert Workflow().decide(o) is Decision.NOTHING


def test_a_shortage_rejects_or_pre_orders_as_configured() -> None:
    o = order()
    assert Workflow().decide_shortage(o) is Decision.REJECT
    assert Workflow(on_shortage=ShortagePolicy.PREORDER).decide_shortage(o) is Decision.PRE_ORDER
    o.pre_order()
    assert Workflow(on_shortage=ShortagePolicy.PREORDER).decide_shortage(o) is (
        Decision.WAIT_FOR_STOCK
    )


def test_unpaid_prepaid_reservations_expire_after_the_ttl() -> None:
    workflow = Workflow(reservation_ttl=600)
    o = order(payment_method=PaymentMethod.ALIPAY)
    assert not workflow.reservation_expired(o, PLACED_AT + timedelta(seconds=600))
    assert workflow.reservation_expired(o, PLACED_AT + timedelta(seconds=601))
    cod = order(payment_method=PaymentMethod.COD)
    assert not workflow.reservation_expired(cod, PLACED_AT + timedelta(days=3))


def test_loads_from_a_dict_and_back() -> None:
    data = {
        "auto_confirm": False,
        "hold_above": {"amount": 500000, "currency": "CNY"},
        "manual_review": ["13800000000", "blacklisted-account"],
        "on_shortage": "preorder",
        "reservation_ttl": 900,
    }
    workflow = Workflow.from_dict(data)
    assert workflow == Workflow(
        auto_confirm=False,
        hold_above=Money(500000, "CNY"),
        manual_review=frozenset({"13800000000", "blacklisted-account"}),
        on_shortage=ShortagePolicy.PREORDER,
        reservation_ttl=900,
    )
    assert Workflow.from_dict(workflow.to_dict()) == workflow
    assert Workflow.from_dict({}) == Workflow()


@pytest.mark.parametrize(
    "data",
    [
        {"on_shortage": "backorder"},
        {"reservation_ttl": 0},
        {"hold_abvoe": {"amount": 1, "currency": "CNY"}},
        {"hold_above": {"amount": 1}},
        {"manual_review": "13800000000"},
    ],
)
def test_bad_settings_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(InvalidWorkflow):
        Workflow.from_dict(data)


def test_a_masked_receiver_waits_for_the_decrypt_even_when_released() -> None:
    o = order(payment_method=PaymentMethod.COD, receiver_masked=True)
    reserve_all(o)
    assert Workflow().decide(o) is Decision.WAIT_FOR_RECEIVER
    o.hold("receiver.decrypt_failed: 20004")
    o.release_hold()  # an operator's release does not ship to a masked address
    assert Workflow().decide(o) is Decision.WAIT_FOR_RECEIVER
    o.reveal_receiver(o.customer, o.address)
    assert not o.receiver_masked
    assert Workflow().decide(o) is Decision.CONFIRM
