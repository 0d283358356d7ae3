"""Payment: tenders captured once, refunds back to their tenders, never beyond them."""

from __future__ import annotations

from uuid import UUID

import pytest
from eventsourcing.domain import Snapshot

from oms_events import statecodec
from oms_events.domain import Payment, PaymentMethod, RefundStatus
from oms_events.domain.errors import InvalidTransition, PaymentAmountInvalid, ReasonRequired
from oms_events.domain.payment import ledger_total
from tests.unit.domain.samples import cny, line, order, payment, replay

ORDER = UUID(int=100)


def split_tender() -> Payment:
    """7000 by Alipay at the channel, 3000 by cash at the till."""
    p = payment(ORDER, amount=7000)
    p.capture("O-1-cash", PaymentMethod.COD, cny(3000))
    return p


def test_a_tender_captured_twice_is_captured_once() -> None:
    p = payment(ORDER, amount=2000)
    p.capture("O-1", PaymentMethod.ALIPAY, cny(2000), "ali-1")
    assert (p.captured, p.balance) == (cny(2000), cny(2000))


def test_a_refund_goes_back_to_the_tenders_in_their_proportion() -> None:
    p = split_tender()
    p.request_refund("r-1", cny(1000), "return")
    assert p.refunds["r-1"].parts == {"O-1": cny(700), "O-1-cash": cny(300)}


def test_never_refund_more_than_captured() -> None:
    p = payment(ORDER, amount=2000)
    p.request_refund("r-1", cny(1500), "line removed")
    # The first refund is still with the provider: its share is held all the same.
    with pytest.raises(PaymentAmountInvalid):
        p.request_refund("r-2", cny(501), "too much")
    p.request_refund("r-2", cny(500), "rest")
    assert p.refundable == cny(0)


def test_a_failed_refund_gives_its_share_back() -> None:
    p = payment(ORDER, amount=2000)
    p.request_refund("r-1", cny(2000), "cancelled")
    p.refund_failed("r-1", "ACQ.SYSTEM_ERROR")
    assert (p.refunds["r-1"].status, p.refundable, p.refunded) == (
        RefundStatus.FAILED,
        cny(2000),
        cny(0),
    )


def test_a_refund_id_repeated_is_refunded_once() -> None:
    p = payment(ORDER, amount=2000)
    p.request_refund("r-1", cny(700), "return")
    p.request_refund("r-1", cny(700), "return")
    p.refund_succeeded("r-1", {"O-1": "ali-r"})
    p.refund_succeeded("r-1", {"O-1": "ali-r"})
    assert (p.refunded, p.balance) == (cny(700), cny(1300))
    assert [e.amount for e in p.ledger] == [cny(2000), cny(-700)]


def test_a_refund_needs_a_reason() -> None:
    with pytest.raises(ReasonRequired):
        payment(ORDER).request_refund("r-1", cny(1), " ")


def test_the_ledger_replays_to_the_same_balance() -> None:
    p = split_tender()
    p.request_refund("r-1", cny(1000), "return")
    p.refund_succeeded("r-1", {"O-1": "ali-r"})
    copy = replay(p.collect_events())
    assert isinstance(copy, Payment)
    assert ledger_total(copy.ledger, "CNY") == copy.balance == cny(9000)


def test_cash_on_delivery_is_collected_on_a_requested_cod_tender() -> None:
    p = payment(ORDER, amount=2000)
    p.request_more("O-1-cod", PaymentMethod.COD, cny(500))
    with pytest.raises(PaymentAmountInvalid):
        p.collect_cod("O-1-cod", cny(501))
    p.collect_cod("O-1-cod", cny(500))
    assert (p.tenders["O-1-cod"].method, p.balance) == (PaymentMethod.COD, cny(2500))


def test_a_requested_tender_is_voided_until_money_is_taken() -> None:
    p = payment(ORDER)
    p.request_more("O-1-2", PaymentMethod.WECHAT_PAY, cny(300))
    p.void("O-1-2", "order cancelled")
    assert "O-1-2" not in p.requested
    with pytest.raises(InvalidTransition):
        p.void("O-1", "too late")


def test_a_payment_and_a_refunded_order_survive_a_snapshot() -> None:
    p = split_tender()
    p.request_refund("r-1", cny(1000), "return")
    p.refund_succeeded("r-1", {"O-1": "ali-r"})
    o = order(lines=[line(1, "SKU-1", 3, 1000, 300)], paid_at_channel="tmall:T-1")
    o.agree_refund("r-2", {1: 1}, shipping=False, reason="return")
    for aggregate in (p, o):
        snapshot = Snapshot.take(aggregate)
        state = statecodec.decode(statecodec.encode(snapshot.state))
        copy = Snapshot(
            originator_id=snapshot.originator_id,
            originator_version=snapshot.originator_version,
            timestamp=snapshot.timestamp,
            topic=snapshot.topic,
            state=state,
        ).mutate(None)
        assert vars(copy) | {"_pending_events": []} == vars(aggregate) | {"_pending_events": []}


def test_an_order_snapshotted_before_refunds_by_line_refunds_from_zero() -> None:
    o = order(lines=[line(1, "SKU-1", 2, 1000)], paid_at_channel="tmall:T-1")
    snapshot = Snapshot.take(o)
    # Until a refund, the state holds none of them: as the previous release wrote it.
    names = {"refunds_agreed", "refunded_units", "shipping_refunded", "promised_back"}
    assert not names & set(snapshot.state)
    restored = snapshot.mutate(None)
    assert restored.agree_refund("r-1", {1: 2}, shipping=False, reason="return") == cny(2000)
    assert restored.amount_held == cny(0)
