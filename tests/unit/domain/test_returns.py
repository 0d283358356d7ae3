"""Return (RMA): approved, shipped, received, inspected, refunded as the order priced it;
refund-only without a parcel; the rules of the return policy; the order's count of
returned units and its completion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from eventsourcing.domain import Snapshot

from oms_events import statecodec
from oms_events.domain import Inspection, Order, Return, ReturnStatus
from oms_events.domain.errors import (
    InvalidTransition,
    NotFullyPaid,
    ReasonRequired,
    ReturnNotAllowed,
    ReturnQuantityInvalid,
    UnknownLine,
    UnknownReturnReason,
)
from oms_events.domain.return_policy import ReturnPolicy, Verdict
from tests.unit.domain.samples import a_return, cny, line, order, replay, return_line, state

ORDER = UUID(int=100)
AT = datetime(2026, 11, 11, 10, tzinfo=UTC)
RMA = UUID(int=7)


def approved(lines: list | None = None, **kw: object) -> Return:  # type: ignore[type-arg]
    r = Return.request(ORDER, "RMA-1", lines or [return_line()], "quality", **kw)  # type: ignore[arg-type]
    r.approve("rules", AT)
    return r


def test_the_goods_go_approved_shipped_received_inspected_refunded() -> None:
    r = approved([return_line(1, quantity=2), return_line(2, quantity=1)])
    r.ship("SF", "SF1234567890123")
    r.record_scan("SF", "SF1234567890123", "delivered", AT, "上海", None)
    r.receive("WH-SH")
    r.collect_events()
    r.inspect({1: (Inspection.RESELLABLE, None), 2: (Inspection.DAMAGED, "screen cracked")})
    restocked, written_off = r.collect_events()
    assert restocked.lines == [  # type: ignore[attr-defined]
        {"line_no": 1, "sku": "SKU-1", "location": "WH-SH", "quantity": 2, "reason": "return RMA-1"}
    ]
    assert written_off.lines[0]["reason"] == "screen cracked"  # type: ignore[attr-defined]
    assert r.refund_units() == {1: 2, 2: 1}
    r.record_refund(cny(2900), [(1, cny(1933)), (2, cny(967))])
    assert r.status is ReturnStatus.REFUNDED and not r.is_open


def test_a_damaged_line_needs_a_reason_and_every_received_line_a_verdict() -> None:
    r = approved([return_line(1), return_line(2)])
    r.receive("WH-SH", {1: 1, 2: 1})
    with pytest.raises(ReasonRequired):
        r.inspect({1: (Inspection.RESELLABLE, None), 2: (Inspection.DAMAGED, None)})
    with pytest.raises(Exception, match="not inspected"):
        r.inspect({1: (Inspection.RESELLABLE, None)})
    with pytest.raises(UnknownLine):
        r.inspect({1: (Inspection.RESELLABLE, None), 9: (Inspection.RESELLABLE, None)})


def test_only_what_arrived_is_refunded() -> None:
    r = approved([return_line(1, quantity=2, ordered=2), return_line(2)])
    r.receive("WH-SH", {1: 1, 2: 0})
    assert r.refund_units() == {1: 1}
    with pytest.raises(ReturnQuantityInvalid):
        approved().receive("WH-SH", {1: 2})


def test_refund_only_skips_the_parcel() -> None:
    r = approved(refund_only=True)
    assert r.refund_units() == {1: 1}
    with pytest.raises(InvalidTransition):
        r.ship("SF", "SF1")
    with pytest.raises(InvalidTransition):
        r.receive("WH-SH")
    r.record_refund(cny(966), [(1, cny(966))])
    assert r.status is ReturnStatus.REFUNDED


def test_a_refund_never_exceeds_what_the_lines_are_worth() -> None:
    # 1 of 3 units at 10.00 with 1.00 off the line: worth 9.66.
    r = approved([return_line(1, quantity=1, ordered=3, price=1000, discount=100)])
    assert r.worth == cny(966)
    assert r.refund_limit == cny(967)  # the line's last unit may carry the odd fen
    r.receive("WH-SH")
    r.inspect({1: (Inspection.RESELLABLE, None)})
    with pytest.raises(ReturnQuantityInvalid):
        r.record_refund(cny(968), [])


def test_an_exchange_refunds_nothing_and_closes_after_inspection() -> None:
    r = approved(exchange_order_id=UUID(int=5), exchange_lines={"SKU-1-L": 1})
    r.receive("WH-SH")
    r.inspect({1: (Inspection.RESELLABLE, None)})
    assert r.refund_units() == {}
    r.close("exchanged")
    assert r.status is ReturnStatus.CLOSED


def test_nothing_is_refunded_before_the_goods_arrive_and_withdrawal_stops_at_receipt() -> None:
    with pytest.raises(InvalidTransition):
        approved().record_refund(cny(1), [])
    r = approved()
    r.cancel("kept it")
    assert r.status is ReturnStatus.CANCELLED
    received = approved()
    received.receive("WH-SH")
    with pytest.raises(InvalidTransition):
        received.cancel("too late")


def test_a_scan_needs_a_parcel() -> None:
    with pytest.raises(InvalidTransition):
        approved().record_scan("SF", "SF1", "in_transit", AT, None, None)


def test_replaying_the_events_rebuilds_the_same_return() -> None:
    r = approved([return_line(1), return_line(2)])
    r.ship("SF", "SF1")
    r.receive("WH-SH")
    r.inspect({1: (Inspection.RESELLABLE, None), 2: (Inspection.DAMAGED, "wet")})
    r.record_refund(cny(100), [(1, cny(100))])
    assert state(replay(r.collect_events())) == state(r)
    assert a_return(ORDER).id == Return.create_id(ORDER, "RMA-1")


# --- the policy -------------------------------------------------------------------


def decide(policy: ReturnPolicy, reason: str = "quality", **kw: object) -> Verdict:
    args: dict[str, object] = {
        "skus": ["SKU-1"],
        "worth": 1000,
        "requested_at": AT,
        "delivered_at": AT - timedelta(days=1),
    }
    args.update(kw)
    return policy.decide(reason=reason, **args).verdict  # type: ignore[arg-type]


def test_the_rules_approve_faults_reject_late_or_non_returnable_and_leave_the_rest() -> None:
    policy = ReturnPolicy(non_returnable=frozenset({"FOOD-1"}), auto_approve_limit=5000)
    assert decide(policy) is Verdict.APPROVE
    assert decide(policy, worth=5001) is Verdict.REVIEW
    assert decide(policy, "no_reason_7d") is Verdict.REVIEW
    assert decide(policy, "no_reason_7d", skus=["FOOD-1"]) is Verdict.REJECT
    assert decide(policy, "quality", skus=["FOOD-1"]) is Verdict.APPROVE  # a fault
    assert decide(policy, delivered_at=AT - timedelta(days=8)) is Verdict.REJECT
    assert decide(policy, delivered_at=None) is Verdict.APPROVE  # window not started


def test_reason_codes_have_zh_and_en_labels() -> None:
    policy = ReturnPolicy()
    assert policy.label("no_reason_7d", "zh") == "七天无理由"
    assert policy.label("damaged", "en") == "Arrived damaged"
    with pytest.raises(UnknownReturnReason):
        policy.check_reason("bored")


# --- the order's side -------------------------------------------------------------


def shipped_order() -> Order:
    o = order(lines=[line(1, "SKU-1", 3, 1000, 100), line(2, "SKU-2", 1, 500)])
    o.record_payment("pay-1", o.total)
    o.allocate([(n, o.reservation_id(n), "WH-SH") for n in (1, 2)])
    o.ship_lines([1, 2], "S-1")
    return o


def test_the_order_takes_no_more_than_shipped_minus_returned() -> None:
    o = shipped_order()
    assert o.open_return(RMA, "RMA-1", {1: 2}, "quality")
    assert o.returnable_units() == {1: 1, 2: 1}
    with pytest.raises(ReturnQuantityInvalid):
        o.open_return(UUID(int=8), "RMA-2", {1: 2}, "quality")
    assert not o.open_return(RMA, "RMA-1", {1: 2}, "quality")  # asked twice
    # Rejected: its units may be returned again.
    o.close_return(RMA, "rejected", {})
    assert o.returnable_units() == {1: 3, 2: 1}


def test_an_order_not_shipped_takes_no_return() -> None:
    o = order()
    with pytest.raises(ReturnNotAllowed):
        o.open_return(RMA, "RMA-1", {1: 1}, "quality")


def test_a_delivered_order_completes_only_with_no_return_open_even_after_a_refund() -> None:
    o = shipped_order()
    o.deliver(AT)
    o.open_return(RMA, "RMA-1", {1: 1}, "quality")
    assert not o.completable
    with pytest.raises(ReturnNotAllowed):
        o.complete()
    o.agree_refund("RMA-1", {1: 1}, False, "return")
    o.record_refund("RMA-1", cny(966))
    o.close_return(RMA, "refunded", {1: 1})
    assert o.completable and o.delivered_at == AT
    o.complete()
    assert state(replay(o.collect_events())) == state(o)


def test_an_unpaid_order_does_not_complete() -> None:
    o = order()
    o.allocate([(1, o.reservation_id(1), "WH-SH")])
    o.ship_lines([1], "S-1")
    o.deliver(AT)
    assert not o.completable
    with pytest.raises(NotFullyPaid):
        o.complete()


def test_a_return_and_an_order_with_a_return_open_survive_a_snapshot() -> None:
    r = approved(exchange_order_id=UUID(int=5), exchange_lines={"SKU-1-L": 1})
    r.ship("SF", "SF1")
    r.receive("WH-SH")
    r.inspect({1: (Inspection.DAMAGED, "wet")})
    o = shipped_order()
    o.deliver(AT)
    o.open_return(RMA, "RMA-1", {1: 2}, "quality")
    for aggregate in (r, o):
        snapshot = Snapshot.take(aggregate)
        copy = Snapshot(
            originator_id=snapshot.originator_id,
            originator_version=snapshot.originator_version,
            timestamp=snapshot.timestamp,
            topic=snapshot.topic,
            state=statecodec.decode(statecodec.encode(snapshot.state)),
        ).mutate(None)
        assert vars(copy) | {"_pending_events": []} == vars(aggregate) | {"_pending_events": []}
    restored = copy
    restored.close_return(RMA, "refunded", {1: 2})  # type: ignore[attr-defined]
    assert restored.returnable_units() == {1: 1, 2: 1}  # type: ignore[attr-defined]
