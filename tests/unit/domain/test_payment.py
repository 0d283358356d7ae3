"""Payment: capture within authorization, refunds within capture, COD at the door."""

from __future__ import annotations

from uuid import UUID

import pytest

from oms_events.domain import Payment, PaymentMethod, PaymentStatus
from oms_events.domain.errors import (
    InvalidTransition,
    PaymentAmountInvalid,
    PaymentMethodMismatch,
)
from tests.unit.domain.samples import cny, payment, replay, state

ORDER = UUID(int=100)


def captured(amount: int = 2000) -> Payment:
    p = payment(ORDER, amount=amount)
    p.authorize(cny(amount), "auth-1")
    p.capture(cny(amount))
    return p


def test_authorize_then_capture() -> None:
    p = payment(ORDER)
    assert p.status is PaymentStatus.REQUESTED
    p.authorize(cny(2000), "auth-1")
    assert p.status is PaymentStatus.AUTHORIZED
    p.capture(cny(1500))
    assert (p.captured, p.status) == (cny(1500), PaymentStatus.CAPTURED)


def test_never_capture_more_than_authorized() -> None:
    p = payment(ORDER)
    p.authorize(cny(1000), "auth-1")
    with pytest.raises(PaymentAmountInvalid):
        p.capture(cny(1001))


def test_never_refund_more_than_captured() -> None:
    p = captured(2000)
    p.refund("r-1", cny(1500), "line removed")
    with pytest.raises(PaymentAmountInvalid):
        p.refund("r-2", cny(501), "too much")
    p.refund("r-2", cny(500), "rest")
    assert p.status is PaymentStatus.REFUNDED


def test_a_refund_id_repeated_is_refunded_once() -> None:
    p = captured(2000)
    p.refund("r-1", cny(700), "return")
    p.refund("r-1", cny(700), "return")
    assert (p.refunded, p.status) == (cny(700), PaymentStatus.PARTIALLY_REFUNDED)


def test_cash_on_delivery_is_collected_not_authorized() -> None:
    cod = payment(ORDER, method=PaymentMethod.COD, amount=1500)
    with pytest.raises(PaymentMethodMismatch):
        cod.authorize(cny(1500), "auth")
    cod.collect_cod(cny(1500))
    assert (cod.captured, cod.status) == (cny(1500), PaymentStatus.CAPTURED)
    with pytest.raises(PaymentMethodMismatch):
        payment(ORDER).collect_cod(cny(1))


def test_only_an_uncaptured_payment_can_be_voided() -> None:
    p = payment(ORDER)
    p.void("order cancelled")
    assert p.status is PaymentStatus.VOIDED
    with pytest.raises(InvalidTransition):
        p.authorize(cny(1), "auth")
    with pytest.raises(InvalidTransition):
        captured().void("too late")


def test_replaying_the_events_rebuilds_the_same_payment() -> None:
    p = captured()
    p.refund("r-1", cny(100), "price match")
    assert state(replay(p.collect_events())) == state(p)
