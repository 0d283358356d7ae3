"""Which orders may merge into one parcel (合单), and the parcels they make."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from oms_events.domain.consolidation import (
    MergePolicy,
    MergeRefused,
    candidate_of,
    customer_identities,
    mergeable_groups,
    normalized_address,
    plan_merge,
)
from oms_events.domain.customer import Address, Customer
from oms_events.domain.order import Order
from tests.unit.domain.samples import line, order

POLICY = MergePolicy(window=timedelta(hours=24))


def allocated(external_id: str, sku: str = "SKU-1", location: str = "WH-SH") -> Order:
    """A paid order reserved at ``location``, not yet allocated (held for review, say):
    what may merge."""
    o = order(lines=[line(1, sku)], external_id=external_id, paid_at_channel=f"tmall:{external_id}")
    o.reserve_lines([(1, o.reservation_id(1), location)])
    return o


def test_one_customers_paid_orders_ship_as_one_parcel_per_location() -> None:
    a, b = allocated("T-1", "SKU-1", "WH-SH"), allocated("T-2", "SKU-2", "WH-BJ")
    c = allocated("T-3", "SKU-3", "WH-SH")
    plan = plan_merge([candidate_of(a), candidate_of(b), candidate_of(c)], POLICY)

    assert set(plan.parcels) == {"WH-SH", "WH-BJ"}
    assert [(p.order_id, p.sku) for p in plan.parcels["WH-SH"]] == [
        (a.id, "SKU-1"),
        (c.id, "SKU-3"),
    ]
    assert plan.parcel_id("WH-SH") != plan.parcel_id("WH-BJ")
    # The same orders in another order make the same group: a retry finds it.
    again = plan_merge([candidate_of(c), candidate_of(a), candidate_of(b)], POLICY)
    assert again.group_id == plan.group_id


def test_an_order_named_twice_ships_once() -> None:
    a, b = allocated("T-1"), allocated("T-2")
    plan = plan_merge([candidate_of(a), candidate_of(a), candidate_of(b)], POLICY)
    assert len(plan.parcels["WH-SH"]) == 2


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda c: dataclasses.replace(c, paid=False), "not paid"),
        (lambda c: dataclasses.replace(c, picked=True), "picked already"),
        (lambda c: dataclasses.replace(c, identities=frozenset({"phone:1"})), "one customer"),
        (lambda c: dataclasses.replace(c, address="elsewhere"), "another address"),
        (lambda c: dataclasses.replace(c, channel="jd"), "channel jd"),
        (lambda c: dataclasses.replace(c, placed_at=c.placed_at + timedelta(days=2)), "apart"),
    ],
)
def test_a_merge_the_rules_forbid_is_refused_naming_why(change, says) -> None:  # type: ignore[no-untyped-def]
    a, b = candidate_of(allocated("T-1")), candidate_of(allocated("T-2"))
    with pytest.raises(MergeRefused, match=says):
        plan_merge([a, change(b)], POLICY)


def test_an_allocated_or_lone_order_does_not_merge() -> None:
    gone = allocated("T-9")
    gone.allocate()  # gone to a warehouse: its parcel is made
    with pytest.raises(MergeRefused, match="allocated"):
        plan_merge([candidate_of(allocated("T-1")), candidate_of(gone)], POLICY)
    with pytest.raises(MergeRefused, match="two or more"):
        plan_merge([candidate_of(allocated("T-1"))], POLICY)


def test_cross_channel_merges_only_when_allowed() -> None:
    a, b = candidate_of(allocated("T-1")), candidate_of(allocated("T-2"))
    b = dataclasses.replace(b, channel="jd")
    plan = plan_merge([a, b], MergePolicy(cross_channel=True))
    assert len(plan.order_ids) == 2


def test_addresses_written_differently_are_one_address() -> None:
    plain = Address("科技园路1号", "CN", "深圳市", "广东省", "南山区")
    assert normalized_address(plain) == normalized_address(
        Address("南山区，科技园路１号 ", "CN", "深圳市", "广东省", None, "518057")
    )
    assert normalized_address(plain) != normalized_address(
        Address("科技园路2号", "CN", "深圳市", "广东省", "南山区")
    )


def test_a_phone_written_with_the_country_code_is_one_customer() -> None:
    assert customer_identities(Customer("张三", "+86 138-0000-0001")) == customer_identities(
        Customer("张三", "13800000001")
    )


def test_the_automatic_merge_groups_within_the_window_only() -> None:
    a, b, c = (candidate_of(allocated(f"T-{n}")) for n in (1, 2, 3))
    late = dataclasses.replace(c, placed_at=c.placed_at + timedelta(hours=30))
    groups = mergeable_groups([a, b, late], POLICY)
    assert [{x.order_id for x in g} for g in groups] == [{a.order_id, b.order_id}]
