"""An order the channel did not collect, through the order and payment services: the
order asks for its total under a trade of ours, the provider's notification is a
capture, the payment tells the order once, and the order is allocated."""

from __future__ import annotations

from oms_events.domain.ids import order_of_trade, trade_no
from oms_events.engine.commands import CapturePayment, RecordPayment, RequestPayment
from oms_events.engine.payment_service import PaymentService
from oms_events.payments.gateway import PaymentNotification
from oms_events.payments.notify import capture_of
from tests.unit.engine.flow import Flow, order_id, place


def notified(reference: str, notify_id: str = "N-1") -> CapturePayment:
    capture = capture_of(
        PaymentNotification(
            provider="wechatpay",
            notify_id=notify_id,
            out_trade_no=reference,
            transaction_id="4200000001",
            status="paid",
            amount=1000,
            currency="CNY",
        )
    )
    assert capture is not None
    return capture


def test_an_unpaid_order_is_allocated_once_its_trade_is_notified_paid() -> None:
    orders, payments = Flow(), Flow(service=PaymentService())
    placed = place("U1", paid=False, method="wechat_pay")
    first = orders.send(placed)
    [ask] = first.commands(RequestPayment)
    assert order_of_trade(ask.reference) == order_id(placed)
    # The stock is reserved, but unpaid the order waits.
    reserved = orders.answer(*first.asks())
    assert "OrderAllocated" not in reserved.events
    assert payments.send(ask).named("PaymentRequested")

    told = payments.send(notified(ask.reference)).commands(RecordPayment)
    assert [(t.payment_id, t.amount) for t in told] == [(ask.reference, 1000)]
    # The provider resends (same notify id) or sends another notification of the
    # same trade: the tender is captured once, the order told once.
    again = payments.send(notified(ask.reference))
    other = payments.send(notified(ask.reference, notify_id="N-2"))
    assert not again.named("PaymentCaptured") and not other.named("PaymentCaptured")
    assert not again.commands(RecordPayment) and not other.commands(RecordPayment)

    paid = orders.send(told[0])
    assert paid.events[:1] == ["PaymentRecorded"] and "OrderAllocated" in paid.events
    # The order asks the payment nothing more: the payment captured it already.
    assert not paid.commands(CapturePayment)


def test_a_notified_trade_of_a_payment_never_asked_for_is_dead_lettered() -> None:
    payments = Flow(service=PaymentService())
    placed = place("U2", paid=False)
    result = payments.send(notified(trade_no(order_id(placed), 1)))
    assert result.dead and not result.named("PaymentCaptured")
