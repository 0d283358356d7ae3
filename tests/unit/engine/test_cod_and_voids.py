"""Cash on delivery, voided trades and settled refunds through the order and payment
services: a COD order asks for its cash at placing, the courier's collection pays it
once per waybill (flagged when short), a cancelled order withdraws its open trade, a
notification of another amount than asked is dead-lettered, and a WeChat Pay refund
left processing is settled by its notification."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from oms_events.domain.ids import trade_no
from oms_events.domain.payment import cod_payment_id
from oms_events.engine.commands import (
    CancelOrder,
    CapturePayment,
    CollectCod,
    RecordCodRemittance,
    RecordPayment,
    RecordRefund,
    RecordTradeClosed,
    RequestPayment,
    RequestRefund,
    SettleRefund,
    VoidPayment,
)
from oms_events.engine.payment_desk import trades_to_close, trades_to_open
from oms_events.engine.payment_service import PaymentService
from tests.unit.engine.flow import Flow, change, order_id, place
from tests.unit.engine.test_collected_payment import notified

AT = datetime(2026, 12, 1, 15, tzinfo=UTC)


def collect(placed_id: object, amount: int, waybill: str, command_id: str = "c1") -> CollectCod:
    return CollectCod(
        command_id=command_id,
        order_id=placed_id,  # type: ignore[arg-type]
        order_no="SO-C1",
        channel="web",
        currency="CNY",
        amount=amount,
        carrier="SF",
        tracking_no=waybill,
        collected_at=AT,
    )


def test_a_cod_order_is_paid_by_the_courier_once_per_waybill() -> None:
    orders, payments = Flow(), Flow(service=PaymentService())
    placed = place("C1", paid=False, method="cod")
    [ask] = orders.send(placed).commands(RequestPayment)
    assert (ask.method, ask.amount) == ("cod", 1000)
    payments.send(ask)
    first = payments.send(collect(order_id(placed), 1000, "SF1"))
    [told] = first.commands(RecordPayment)
    assert told.payment_id == cod_payment_id("SF", "SF1") and told.amount == 1000
    [collected] = first.named("CodCollected")
    assert (collected["tracking_no"], collected["expected"]["amount"]) == ("SF1", 1000)
    # The same delivered scan again (another command id): no second effect.
    again = payments.send(collect(order_id(placed), 1000, "SF1", command_id="c2"))
    assert not again.named("CodCollected") and not again.commands(RecordPayment)
    # The order records it and asks the payment nothing back.
    paid = orders.send(told)
    assert "PaymentRecorded" in paid.events and not paid.commands(CapturePayment)


def test_cash_short_at_the_door_is_collected_flagged_and_remitted_short() -> None:
    orders, payments = Flow(), Flow(service=PaymentService())
    placed = place("C2", paid=False, method="cod")
    payments.send(orders.send(placed).commands(RequestPayment)[0])
    [collected] = payments.send(collect(order_id(placed), 900, "SF2")).named("CodCollected")
    assert (collected["amount"]["amount"], collected["expected"]["amount"]) == (900, 1000)
    remit = RecordCodRemittance(
        command_id="r1",
        order_id=order_id(placed),
        order_no="SO-C2",
        channel="web",
        currency="CNY",
        carrier="SF",
        tracking_no="SF2",
        batch="SF-abc",
        remitted=850,
        fee=9,
        remitted_on="2026-12-03",
    )
    [remitted] = payments.send(remit).named("CodRemitted")
    assert remitted["outcome"] == "short_paid"
    assert not payments.send(remit).named("CodRemitted")  # the same file again


def test_a_cod_order_in_two_parcels_is_paid_once_both_parts_are_collected() -> None:
    orders, payments = Flow(), Flow(service=PaymentService())
    placed = place("C3", [("TEA", 3)], paid=False, method="cod")
    payments.send(orders.send(placed).commands(RequestPayment)[0])
    first = payments.send(replace(collect(order_id(placed), 2000, "SF1"), expected=2000))
    second = payments.send(
        replace(collect(order_id(placed), 1000, "SF2", command_id="c2"), expected=1000)
    )
    parts = [*first.named("CodCollected"), *second.named("CodCollected")]
    assert [(c["tracking_no"], c["amount"]["amount"], c["settles"]) for c in parts] == [
        ("SF1", 2000, False),
        ("SF2", 1000, True),
    ]
    # The order hears of each part and is paid when they cover its total.
    [one] = first.commands(RecordPayment)
    orders.send(one)
    assert not orders.order(order_id(placed)).is_paid
    [two] = second.commands(RecordPayment)
    orders.send(two)
    assert orders.order(order_id(placed)).is_paid
    assert two.payment_id == cod_payment_id("SF", "SF2") and two.amount == 1000


def test_a_cancelled_order_voids_its_open_trade() -> None:
    orders, payments = Flow(), Flow(service=PaymentService())
    placed = place("V1", paid=False, method="alipay")
    [ask] = orders.send(placed).commands(RequestPayment)
    payments.send(ask)
    cancelled = orders.send(
        CancelOrder(command_id="x1", order_id=order_id(placed), reason="buyer cancelled")
    )
    [void] = cancelled.commands(VoidPayment)
    [voided] = payments.send(void).named("PaymentVoided")
    assert (voided["reference"], voided["reason"]) == (ask.reference, "buyer cancelled")
    [payment] = [a for part in payments.partitions.values() for a in part.aggregates.values()]
    assert trades_to_close(payment) == [(ask.reference, "alipay")]
    # Paid before the close reached Alipay: the money is captured and refunded at once;
    # the order, which withdrew the trade, is told nothing.
    late = payments.send(notified(ask.reference))
    assert late.named("PaymentCaptured") and not late.commands(RecordPayment)
    [refund] = late.named("RefundRequested")
    assert refund["parts"][0]["amount"]["amount"] == 1000
    assert not payments.send(notified(ask.reference, "N-2")).named("RefundRequested")
    assert trades_to_close(payment) == []  # paid: nothing left to close


def test_a_notification_of_another_amount_than_asked_is_dead_lettered() -> None:
    orders, payments = Flow(), Flow(service=PaymentService())
    placed = place("M1", paid=False, method="wechat_pay", lines=[("TEA", 2)])  # 2000 asked
    payments.send(orders.send(placed).commands(RequestPayment)[0])
    result = payments.send(notified(trade_no(order_id(placed), 1)))  # says 1000 paid
    assert result.dead and not result.named("PaymentCaptured")
    assert b"payment.amount_invalid" in result.dead[0].headers.values()


def test_a_refund_left_processing_is_settled_by_its_notification() -> None:
    orders, payments = Flow(), Flow(service=PaymentService())
    placed = place("W1", paid=False, method="wechat_pay")
    [ask] = orders.send(placed).commands(RequestPayment)
    payments.send(ask)
    payments.send(notified(ask.reference))
    refund = RequestRefund(
        command_id="rf",
        order_id=order_id(placed),
        order_no="SO-W1",
        channel="web",
        currency="CNY",
        refund_id="RF-1",
        amount=400,
        reason="return",
    )
    payments.send(refund)

    def settle(ok: bool, command_id: str) -> SettleRefund:
        return SettleRefund(
            command_id=command_id,
            order_id=order_id(placed),
            order_no="",
            channel="",
            currency="CNY",
            tender=ask.reference,
            refund_key="RF-1",
            succeeded=ok,
            provider_refund_id="50000001" if ok else "",
            failure="" if ok else "REFUND.ABNORMAL ABNORMAL",
        )

    failed = payments.send(settle(False, "n1"))
    assert failed.named("RefundFailed") and not failed.commands(RecordRefund)
    # A new refund, settled: recorded and told to the order, once.
    payments.send(RequestRefund(**{**refund.__dict__, "command_id": "rf2", "refund_id": "RF-2"}))
    ok = payments.send(SettleRefund(**{**settle(True, "n2").__dict__, "refund_key": "RF-2"}))
    [done] = ok.named("PaymentRefunded")
    assert done["provider_refs"][0]["provider_refund_id"] == "50000001"
    assert [r.amount for r in ok.commands(RecordRefund)] == [400]
    assert not payments.send(
        SettleRefund(**{**settle(True, "n3").__dict__, "refund_key": "RF-2"})
    ).named("PaymentRefunded")
    # A failure of a refund the ledger holds as paid is an operator's question.
    assert payments.send(
        SettleRefund(**{**settle(False, "n4").__dict__, "refund_key": "RF-2"})
    ).dead


def test_an_unpaid_order_that_changes_replaces_its_trade() -> None:
    orders, payments = Flow(), Flow(service=PaymentService())
    placed = place("R1", paid=False, method="alipay")
    first = orders.send(placed)
    [ask] = first.commands(RequestPayment)
    payments.send(ask)
    orders.answer(*first.asks())
    changed = orders.send(change(placed, [(1, "TEA", 1), (2, "TEA", 1)]))
    void, new = changed.commands(VoidPayment), changed.commands(RequestPayment)
    assert len(void) == 1 and [(r.amount, r.method) for r in new] == [(2000, "alipay")]
    assert new[0].reference != ask.reference
    payments.send(void[0])
    result = payments.send(new[0])
    assert result.named("TenderRequested")
    [payment] = [a for part in payments.partitions.values() for a in part.aggregates.values()]
    assert trades_to_close(payment) == [(ask.reference, "alipay")]
    assert [t[0] for t in trades_to_open(payment)] == [new[0].reference]


def test_a_closed_trade_is_recorded_once_and_not_closed_again() -> None:
    orders, payments = Flow(), Flow(service=PaymentService())
    placed = place("K1", paid=False, method="wechat_pay")
    [ask] = orders.send(placed).commands(RequestPayment)
    payments.send(ask)
    cancelled = orders.send(CancelOrder(command_id="k1", order_id=order_id(placed), reason="x"))
    payments.send(cancelled.commands(VoidPayment)[0])
    closed = RecordTradeClosed(
        command_id=f"trade-closed/{ask.reference}",
        order_id=order_id(placed),
        order_no="SO-K1",
        channel="web",
        currency="CNY",
        reference=ask.reference,
    )
    assert payments.send(closed).named("TradeClosed")
    assert not payments.send(replace(closed, command_id="again")).named("TradeClosed")
    [payment] = [a for part in payments.partitions.values() for a in part.aggregates.values()]
    assert trades_to_close(payment) == []
