"""The Order's side of merging (合单) and splitting (拆单), and the merged parcel's."""

from __future__ import annotations

from uuid import UUID

import pytest

from oms_events.domain.errors import InvalidTransition, MergeNotAllowed, OrderLocked
from oms_events.domain.order import OrderStatus, PaymentMethod
from oms_events.domain.shipment import Shipment, ShipmentLine
from tests.unit.domain.samples import cny, line, order, replay, state

GROUP = UUID(int=5)


def test_a_split_ships_part_now_and_the_backorder_later_with_the_money_unchanged() -> None:
    o = order(lines=[line(1, "SKU-1", 5, 1000, 100)], external_id="S-1")
    o.pre_order()
    total = o.total
    o.split("availability", [(1, 3, cny(60))], [line(2, "SKU-1", 2, 1000, 40)], [2])

    assert o.total == total and o.status is OrderStatus.PENDING
    assert o.unreserved_lines() == [1]  # the backorder waits on its own
    o.allocate([(1, o.reservation_id(1), "WH-SH")])
    assert set(o.allocations) == {1} and o.backorder_waiting
    o.ship_lines([1], "parcel-1")
    assert o.status is OrderStatus.PARTIALLY_SHIPPED  # the backorder has not left

    taken = o.allocate_backorder(UUID(int=9), "WH-BJ", [(2, o.reservation_id(2))])
    assert [a["line_no"] for a in taken] == [2] and not o.backorder_waiting
    assert o.backorder_parcels == ((str(UUID(int=9)), (2,)),)
    o.ship_lines([2], str(UUID(int=9)))
    assert o.status is OrderStatus.SHIPPED
    # Replayed, the order is what it was.
    assert state(replay(o.collect_events())) == state(o)


def test_a_backorder_answer_of_an_old_reservation_allocates_nothing() -> None:
    o = order(lines=[line(1, "SKU-1", 3)], external_id="S-2")
    o.split("availability", [(1, 1, cny(0))], [line(2, "SKU-1", 2)], [2])
    o.allocate([(1, o.reservation_id(1), "WH-SH")])
    assert o.allocate_backorder(UUID(int=9), "WH-SH", [(2, UUID(int=1))]) == []
    assert o.backordered == {2}


def test_a_split_is_refused_once_allocated() -> None:
    o = order(external_id="S-3")
    o.allocate([(1, o.reservation_id(1), "WH-SH")])
    with pytest.raises(OrderLocked):
        o.split("availability", [], [], [])


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda: order(external_id="M-1"), "not paid"),
        (lambda: order(external_id="M-2", payment_method=PaymentMethod.COD), "not paid"),
    ],
)
def test_an_unpaid_or_cod_order_may_not_merge(make, says) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MergeNotAllowed, match=says):
        make().check_mergeable()


def test_an_allocated_or_merged_order_may_not_merge() -> None:
    gone = order(external_id="M-3", paid_at_channel="tmall:M-3")
    gone.allocate([(1, gone.reservation_id(1), "WH-SH")])
    with pytest.raises(MergeNotAllowed, match="allocated"):
        gone.check_mergeable()
    member = order(external_id="M-4", paid_at_channel="tmall:M-4")
    assert member.join_merge(GROUP, UUID(int=1), "ops")
    assert not member.join_merge(GROUP, UUID(int=1), "ops")  # asked twice: joined once
    with pytest.raises(MergeNotAllowed, match="merged already"):
        member.join_merge(UUID(int=6), UUID(int=1), "ops")


def test_the_lead_keeps_its_groups_answers_and_who_is_left() -> None:
    lead = order(external_id="M-5", paid_at_channel="tmall:M-5")
    a, b = UUID(int=11), UUID(int=12)
    lead.request_merge(GROUP, [lead.id, a, b], "ops")
    assert lead.leads_merge
    assert lead.record_merge_report(a, "joined", facts={"order_no": "A"})
    assert not lead.record_merge_report(a, "joined", facts={"order_no": "A"})  # a repeat
    assert not lead.record_merge_report(UUID(int=99), "joined")  # not of the group
    lead.record_merge_report(b, "left", "cancelled")
    assert lead.merge_members_left() == (str(lead.id), str(a))
    assert lead.leave_merge("dissolved") and lead.merge_group is None


def test_a_merged_parcel_gives_each_order_its_lines_and_loses_a_cancelled_ones() -> None:
    lead, member = UUID(int=1), UUID(int=2)
    parcel = Shipment.create(
        lead,
        "WH-SH",
        [ShipmentLine(1, "A", 2, UUID(int=21)), ShipmentLine(1, "B", 1, UUID(int=22), member)],
        shipment_id=UUID(int=30),
    )
    assert parcel.id == UUID(int=30)
    assert {k: [ln.sku for ln in v] for k, v in parcel.lines_by_order().items()} == {
        lead: ["A"],
        member: ["B"],
    }
    assert parcel.withdraw_order(member, "order cancelled")
    assert not parcel.withdraw_order(member, "order cancelled")  # taken out before
    assert [ln.sku for ln in parcel.lines] == ["A"]
    assert state(replay(parcel.collect_events())) == state(parcel)
    # On the road it can no longer be cut.
    parcel.pick()
    parcel.pack()
    parcel.ship("SF", "SF1")
    with pytest.raises(InvalidTransition):
        parcel.withdraw_order(lead, "order cancelled")
