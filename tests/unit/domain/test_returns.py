"""Return: received, restocked, refunded with the line's discount prorated."""

from __future__ import annotations

from uuid import UUID

import pytest

from oms_events.domain import Return, ReturnStatus
from oms_events.domain.errors import InvalidTransition, ReturnQuantityInvalid, UnknownLine
from tests.unit.domain.samples import a_return, cny, replay, return_line, state

ORDER = UUID(int=100)


def test_the_refund_prorates_the_line_discount() -> None:
    # 3 units at 10.00 with 1.00 off the line: 29.00 paid, 1 unit returned -> 9.66.
    r = a_return(ORDER, [return_line(1, quantity=1, ordered=3, price=1000, discount=100)])
    r.receive()
    r.refund()
    assert r.refunded == cny(966)
    assert r.status is ReturnStatus.REFUNDED


def test_returning_the_whole_line_refunds_exactly_what_was_paid() -> None:
    r = a_return(ORDER, [return_line(1, quantity=3, ordered=3, price=999, discount=7)])
    r.receive()
    assert r.refund_amount == cny(3 * 999 - 7)


def test_only_what_arrived_is_refunded() -> None:
    r = a_return(
        ORDER,
        [
            return_line(1, quantity=2, ordered=2, price=1000, discount=0),
            return_line(2, quantity=1, ordered=1, price=500, discount=0),
        ],
    )
    r.receive({1: 1, 2: 0})
    assert r.refund_amount == cny(1000)


def test_cannot_receive_more_than_requested() -> None:
    r = a_return(ORDER, [return_line(1, quantity=1, ordered=3)])
    with pytest.raises(ReturnQuantityInvalid):
        r.receive({1: 2})
    with pytest.raises(UnknownLine):
        r.receive({7: 1})


def test_cannot_return_more_than_was_ordered() -> None:
    with pytest.raises(ReturnQuantityInvalid):
        return_line(1, quantity=4, ordered=3)


def test_restocking_names_sku_location_and_units() -> None:
    r = a_return(ORDER, [return_line(1, quantity=2, ordered=3)])
    r.receive()
    r.collect_events()
    r.restock()
    (restocked,) = r.collect_events()
    assert restocked.lines == [  # type: ignore[attr-defined]
        {"line_no": 1, "sku": "SKU-1", "location": "WH-SH", "quantity": 2}
    ]
    r.refund()
    assert r.status is ReturnStatus.REFUNDED


def test_nothing_is_refunded_before_the_goods_arrive() -> None:
    with pytest.raises(InvalidTransition):
        a_return(ORDER).refund()


def test_a_return_can_be_withdrawn_only_before_receipt() -> None:
    r = a_return(ORDER)
    r.cancel("kept it")
    assert r.status is ReturnStatus.CANCELLED
    received = a_return(ORDER)
    received.receive()
    with pytest.raises(InvalidTransition):
        received.cancel("too late")


def test_the_return_id_is_derived_from_order_and_return_number() -> None:
    assert a_return(ORDER).id == Return.create_id(ORDER, "RMA-1")


def test_replaying_the_events_rebuilds_the_same_return() -> None:
    r = a_return(ORDER)
    r.receive()
    r.restock()
    r.refund()
    assert state(replay(r.collect_events())) == state(r)
