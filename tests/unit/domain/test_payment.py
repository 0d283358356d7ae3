"""Payment: tenders captured once, refunds back to their tenders, never beyond them."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest
from eventsourcing.domain import Snapshot

from oms_events import statecodec
from oms_events.domain import Payment, PaymentMethod, RefundStatus
from oms_events.domain.errors import InvalidTransition, PaymentAmountInvalid, ReasonRequired
from oms_events.domain.payment import CodOutcome, ledger_total
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


AT = datetime(2026, 12, 1, 10, tzinfo=UTC)


def test_cash_on_delivery_is_collected_once_per_waybill_on_the_requested_cod_tender() -> None:
    p = payment(ORDER, amount=2000)
    p.request_more("O-1-cod", PaymentMethod.COD, cny(500))
    p.collect_cod("SF1", "SF", cny(500), AT)
    p.collect_cod("SF1", "SF", cny(500), AT)  # the same delivered scan again
    assert (p.tenders["O-1-cod"].method, p.balance) == (PaymentMethod.COD, cny(2500))
    assert p.cod["SF1"].variance == cny(0) and p.cod["SF1"].collected_at == AT
    # Nothing asked any more: another waybill is refused.
    with pytest.raises(InvalidTransition):
        p.collect_cod("SF2", "SF", cny(500), AT)


def test_cash_short_or_over_at_the_door_is_collected_and_flagged() -> None:
    short = Payment.request(ORDER, PaymentMethod.COD, cny(1000), "O-1-cod")
    short.collect_cod("SF1", "SF", cny(900), AT)
    assert short.balance == cny(900) and short.cod["SF1"].variance == cny(-100)
    over = Payment.request(ORDER, PaymentMethod.COD, cny(1000), "O-1-cod")
    over.collect_cod("SF1", "SF", cny(1100), AT)
    assert over.balance == cny(1100) and over.cod["SF1"].variance == cny(100)
    assert ledger_total(over.ledger, "CNY") == over.balance


def test_a_cod_tender_split_over_parcels_is_collected_in_parts_one_per_waybill() -> None:
    p = Payment.request(ORDER, PaymentMethod.COD, cny(3000), "O-1-cod")
    p.collect_cod("SF1", "SF", cny(2000), AT, expected=cny(2000))
    p.collect_cod("SF1", "SF", cny(2000), AT, expected=cny(2000))  # the same scan again
    # A part: the tender still asks for the other parcel's 1000.
    assert "O-1-cod" in p.requested and p.cod_remaining() == cny(1000)
    assert p.balance == cny(2000)
    p.collect_cod("SF2", "SF", cny(1000), AT, expected=cny(1000))
    assert not p.requested and p.tenders["O-1-cod"].captured == cny(3000)
    assert [(e.reference, e.amount) for e in p.ledger] == [("SF1", cny(2000)), ("SF2", cny(1000))]
    assert (p.cod["SF1"].variance, p.cod["SF2"].variance) == (cny(0), cny(0))
    assert ledger_total(p.ledger, "CNY") == p.balance == cny(3000)
    with pytest.raises(InvalidTransition):  # nothing asked any more
        p.collect_cod("SF3", "SF", cny(1), AT, expected=cny(1))
    copy = replay(p.collect_events())
    assert isinstance(copy, Payment) and copy.tenders["O-1-cod"].captured == cny(3000)
    assert not copy.requested and copy.cod["SF2"].expected == cny(1000)


def test_each_parcel_is_judged_short_or_over_against_its_own_price() -> None:
    short = Payment.request(ORDER, PaymentMethod.COD, cny(3000), "O-1-cod")
    short.collect_cod("SF1", "SF", cny(1900), AT, expected=cny(2000))
    short.collect_cod("SF2", "SF", cny(1000), AT, expected=cny(1000))
    assert (short.cod["SF1"].variance, short.cod["SF2"].variance) == (cny(-100), cny(0))
    # The door's shortfall is still asked for: the order is not paid in full.
    assert short.cod_remaining() == cny(100) and short.balance == cny(2900)
    over = Payment.request(ORDER, PaymentMethod.COD, cny(3000), "O-1-cod")
    over.collect_cod("SF1", "SF", cny(2100), AT, expected=cny(2000))
    over.collect_cod("SF2", "SF", cny(1000), AT, expected=cny(1000))
    assert (over.cod["SF1"].variance, over.cod["SF2"].variance) == (cny(100), cny(0))
    assert not over.requested and over.balance == cny(3100)


def test_a_part_collected_before_the_order_was_cancelled_leaves_the_rest_withdrawn() -> None:
    p = Payment.request(ORDER, PaymentMethod.COD, cny(3000), "O-1-cod")
    p.collect_cod("SF1", "SF", cny(2000), AT, expected=cny(2000))
    assert p.void_open("order cancelled") == ["O-1-cod"]
    assert "O-1-cod" in p.voided and p.cod_remaining() == cny(1000)
    # The other parcel delivered all the same: its cash is real, and owed back.
    p.collect_cod("SF2", "SF", cny(1000), AT, expected=cny(1000))
    assert not p.voided and p.balance == cny(3000)
    p.request_refund("R-1", cny(3000), "order cancelled")
    assert p.tenders["O-1-cod"].refundable == cny(0)


def test_a_collection_recorded_before_parts_settles_what_it_collected_on() -> None:
    p = Payment.request(ORDER, PaymentMethod.COD, cny(1000), "O-1-cod")
    p._cod_collected(amount=cny(900).to_dict(), reference="O-1-cod", tracking_no="SF1")
    assert not p.requested  # as an earlier version's CodCollected, with no ``settles``


def test_one_collection_settles_every_cod_tender_asked_for() -> None:
    p = Payment.request(ORDER, PaymentMethod.COD, cny(1000), "O-1-cod")
    p.request_more("O-1-cod-2", PaymentMethod.COD, cny(200))  # the order grew
    p.collect_cod("SF1", "SF", cny(1200), AT)
    assert not p.requested and p.cod["SF1"].expected == cny(1200)
    copy = replay(p.collect_events())
    assert isinstance(copy, Payment) and copy.cod["SF1"].expected == cny(1200)


def test_the_remittance_file_is_matched_against_the_cash_collected_once() -> None:
    p = Payment.request(ORDER, PaymentMethod.COD, cny(1000), "O-1-cod")
    p.collect_cod("SF1", "SF", cny(1000), AT)
    p.cod_missing("SF1", "file-1")
    p.cod_missing("SF1", "file-1")  # the same file again: once
    p.remit_cod("SF1", "file-2", cny(950), cny(10), "2026-12-03")
    p.remit_cod("SF1", "file-2", cny(1000), cny(10), "2026-12-03")  # no second effect
    p.cod_missing("SF1", "file-3")  # remitted already: not missing
    names = [type(e).__name__ for e in p.collect_events()]
    assert names.count("CodRemittanceMissing") == 1 and names.count("CodRemitted") == 1
    assert p.cod["SF1"].outcome is CodOutcome.SHORT_PAID and p.cod["SF1"].fee == cny(10)
    with pytest.raises(InvalidTransition):
        p.remit_cod("NOT-OURS", "file-2", cny(1), cny(0), "2026-12-03")


def test_a_capture_of_another_amount_than_asked_is_refused() -> None:
    p = Payment.request(ORDER, PaymentMethod.ALIPAY, cny(1000), "T-1")
    with pytest.raises(PaymentAmountInvalid):
        p.capture("T-1", "alipay", cny(1), "ali-1")
    assert not p.tenders


def test_voided_tenders_are_withdrawn_and_a_late_payment_is_still_money_in() -> None:
    p = Payment.request(ORDER, PaymentMethod.ALIPAY, cny(1000), "T-1")
    assert p.void_open("order cancelled") == ["T-1"]
    assert not p.requested and "T-1" in p.voided
    # Paid before the close reached the provider: the money is ours to give back.
    with pytest.raises(PaymentAmountInvalid):
        p.capture("T-1", "alipay", cny(999), "ali-1")
    p.capture("T-1", "alipay", cny(1000), "ali-1")
    assert p.balance == cny(1000) and not p.voided
    p.capture("T-2", "wechat_pay", cny(500), "wx-1")  # another tender, kept
    p.refund_tender("T-1-W", "T-1", "paid after it was withdrawn")
    assert p.refunds["T-1-W"].parts == {"T-1": cny(1000)}


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


def test_cash_collected_after_the_cod_tender_was_voided_is_still_money_in() -> None:
    # The order was cancelled, the parcel delivered all the same: the courier has the cash.
    p = Payment.request(ORDER, PaymentMethod.COD, cny(1000), "O-1-cod")
    p.void_open("order cancelled")
    p.collect_cod("SF1", "SF", cny(1000), AT)
    assert p.balance == cny(1000) and not p.voided and p.cod["SF1"].expected == cny(1000)


def test_a_payment_snapshotted_before_voids_and_cod_is_upcast_when_restored() -> None:
    p = Payment.request(ORDER, PaymentMethod.COD, cny(1000), "O-1-cod")
    p.request_more("T-2", PaymentMethod.ALIPAY, cny(200))
    snapshot = Snapshot.take(p)
    # As the previous release wrote it: no class version, none of the new attributes.
    old = {
        k: v
        for k, v in snapshot.state.items()
        if k not in {"class_version", "voided", "trades_closed", "cod"}
    }
    restored = Snapshot(
        originator_id=snapshot.originator_id,
        originator_version=snapshot.originator_version,
        timestamp=snapshot.timestamp,
        topic=snapshot.topic,
        state=old,
    ).mutate(None)
    assert isinstance(restored, Payment)
    restored.void("T-2", "order cancelled")
    restored.trade_closed("T-2")
    restored.void_open("order cancelled")
    restored.collect_cod("SF1", "SF", cny(1000), AT)
    assert restored.trades_closed == {"T-2"} and restored.cod["SF1"].amount == cny(1000)
