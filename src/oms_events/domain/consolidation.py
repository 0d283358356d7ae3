"""Merging orders (合单): which open orders of one customer may ship together, and the
consolidated parcels they make.

Orders stay what the channels sent (aggregates keyed by the channel's id, refunds and
returns counted per order); a merge consolidates their *shipments*: one merge group
per set of orders and one parcel per group and location, which the allocation records
carry. Nothing here touches Kafka or PostgreSQL: the order service asks these rules
and records the answer as events.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from oms_events.domain.customer import Address, Customer
from oms_events.domain.errors import DomainError
from oms_events.domain.money import Money
from oms_events.domain.order import Order, OrderStatus

# Names merge groups and their parcels: the same orders always make the same group, so
# an operator's retry (or the automatic merge after a restart) finds the group it made.
MERGE_NAMESPACE = uuid.UUID("6f0b6c1e-0d39-4d6a-9a55-3b7f0f3c6a10")

# Orders not yet gone to a warehouse: the engine allocates an order the moment it is
# reserved, paid and reviewed, so a merge is made before that (orders held for review
# or an operator, waiting for stock), and the group is allocated once, as one parcel.
MERGEABLE = frozenset(
    {OrderStatus.PENDING, OrderStatus.PRE_ORDER, OrderStatus.ON_HOLD, OrderStatus.CONFIRMED}
)

# Separators people and channels put into addresses in different ways; they never
# change where a parcel goes.
_SEPARATORS = frozenset(" \t\r\n,，.。、;；:：-—_#/()（）")


class MergeRefused(DomainError):
    """Orders that may not ship as one parcel."""

    code = "order.merge_refused"
    message_en = "Merge refused: {detail}."
    message_zh = "合单被拒绝：{detail}。"


@dataclass(frozen=True, slots=True)
class MergePolicy:
    """How far merging may go.

    window: the most time between the first and the last order's placing.
    cross_channel: whether orders of different channels may share a parcel (the
        channels' own rules may forbid it: a Tmall parcel carries Tmall's waybill).
    """

    window: timedelta = timedelta(hours=24)
    cross_channel: bool = False


@dataclass(frozen=True, slots=True)
class ParcelLine:
    """One order line's units in a parcel."""

    order_id: UUID
    order_no: str
    line_no: int
    sku: str
    quantity: int
    net: Money


@dataclass(frozen=True, slots=True)
class MergeCandidate:
    """What the merge rules read of one order."""

    order_id: UUID
    order_no: str
    channel: str
    identities: frozenset[str]
    address: str
    status: OrderStatus
    paid: bool
    picked: bool
    placed_at: datetime
    currency: str
    lines: tuple[tuple[ParcelLine, str], ...]  # (line, location it ships from)
    merge_group: UUID | None = None


@dataclass(frozen=True, slots=True)
class MergePlan:
    """A merge group: its id, its orders and one parcel of lines per location."""

    group_id: UUID
    order_ids: tuple[UUID, ...]
    parcels: Mapping[str, tuple[ParcelLine, ...]]

    def parcel_id(self, location: str) -> UUID:
        """The consolidated shipment's id at ``location`` (one per group+location)."""
        return uuid.uuid5(self.group_id, location)


def normalized_address(address: Address) -> str:
    """The address as one comparable key: full-width folded (NFKC), case folded,
    separators dropped, the district wherever it was written (its own field or line1).
    The postcode is left out: channels send it for some orders and not others."""
    text = "".join(
        part or "" for part in (address.country, address.province, address.city, address.district)
    )
    text += address.line1
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in folded if c not in _SEPARATORS)


def customer_identities(customer: Customer) -> frozenset[str]:
    """Phone (digits only, the last 11: +86 and spaces dropped) and account."""
    found: set[str] = set()
    if customer.phone:
        digits = "".join(c for c in customer.phone if c.isdigit())
        if digits:
            found.add("phone:" + digits[-11:])
    if customer.account:
        found.add("account:" + customer.account.strip().casefold())
    return frozenset(found)


def candidate_of(
    order: Order, picked: bool = False, merge_group: UUID | None = None
) -> MergeCandidate:
    """The merge rules' view of ``order`` (``picked``: a warehouse picked a parcel of it)."""
    lines = tuple(
        (
            ParcelLine(order.id, order.order_no, n, line.sku, line.quantity, line.net),
            order.reservations[n][1] if n in order.reservations else "",
        )
        for n, line in sorted(order.lines.items())
    )
    return MergeCandidate(
        order_id=order.id,
        order_no=order.order_no,
        channel=order.channel,
        identities=customer_identities(order.customer),
        address=normalized_address(order.address),
        status=order.status,
        paid=order.is_paid and not order.is_cod,
        picked=picked,
        placed_at=order.placed_at,
        currency=order.currency,
        lines=lines,
        merge_group=merge_group,
    )


def check_merge(candidates: Sequence[MergeCandidate], policy: MergePolicy) -> None:
    """Raise MergeRefused unless ``candidates`` may ship as one: two or more distinct
    orders, each paid, not yet allocated (``MERGEABLE``) and not picked, in no other merge group;
    one customer (a phone or account all share), one address, one currency, one channel
    (unless the policy allows several) and placed within the policy's window."""
    ids = [c.order_id for c in candidates]
    if len(set(ids)) < 2:
        raise MergeRefused(detail="give two or more different orders")
    for c in candidates:
        if c.status not in MERGEABLE:
            raise MergeRefused(detail=f"order {c.order_no} is {c.status.value}")
        if not c.paid:
            raise MergeRefused(detail=f"order {c.order_no} is not paid (or is cash on delivery)")
        if c.picked:
            raise MergeRefused(detail=f"order {c.order_no} is picked already")
        if c.merge_group is not None:
            raise MergeRefused(detail=f"order {c.order_no} is merged already")
    first = candidates[0]
    shared = frozenset.intersection(*(c.identities for c in candidates))
    if not shared:
        raise MergeRefused(detail="the orders are not of one customer (no phone or account shared)")
    for c in candidates[1:]:
        if c.address != first.address:
            raise MergeRefused(detail=f"order {c.order_no} goes to another address")
        if c.currency != first.currency:
            raise MergeRefused(detail=f"order {c.order_no} is in {c.currency}")
        if c.channel != first.channel and not policy.cross_channel:
            raise MergeRefused(
                detail=f"order {c.order_no} is of channel {c.channel}, not {first.channel}"
            )
    placed = [c.placed_at for c in candidates]
    if max(placed) - min(placed) > policy.window:
        raise MergeRefused(
            detail=f"the orders were placed more than {policy.window} apart (the merge window)"
        )


def plan_merge(candidates: Sequence[MergeCandidate], policy: MergePolicy) -> MergePlan:
    """The merge group of ``candidates`` (checked by ``check_merge``): one parcel per
    location holding every line of every order that ships from there."""
    check_merge(candidates, policy)
    # An order named twice ships once: the candidates are a set of orders.
    unique = list({c.order_id: c for c in candidates}.values())
    order_ids = tuple(sorted(c.order_id for c in unique))
    group_id = uuid.uuid5(MERGE_NAMESPACE, ",".join(str(i) for i in order_ids))
    parcels: dict[str, list[ParcelLine]] = defaultdict(list)
    for c in sorted(unique, key=lambda c: (c.placed_at, c.order_no)):
        for line, location in c.lines:
            parcels[location].append(line)
    return MergePlan(
        group_id=group_id,
        order_ids=order_ids,
        parcels={loc: tuple(lines) for loc, lines in sorted(parcels.items())},
    )


def mergeable_groups(
    candidates: Iterable[MergeCandidate], policy: MergePolicy
) -> list[tuple[MergeCandidate, ...]]:
    """Groups the automatic merge would make: candidates bucketed by customer phone or
    account, address, currency (and channel), each bucket cut where the window ends;
    groups of one are left alone. A candidate goes into one group at most."""
    buckets: dict[tuple[str, ...], list[MergeCandidate]] = defaultdict(list)
    for c in candidates:
        if c.status not in MERGEABLE or not c.paid or c.picked or c.merge_group is not None:
            continue
        if not c.identities:
            continue
        channel = "" if policy.cross_channel else c.channel
        buckets[(min(c.identities), c.address, c.currency, channel)].append(c)
    groups: list[tuple[MergeCandidate, ...]] = []
    for bucket in buckets.values():
        bucket.sort(key=lambda c: (c.placed_at, c.order_no))
        current: list[MergeCandidate] = []
        for c in bucket:
            if current and c.placed_at - current[0].placed_at > policy.window:
                if len(current) > 1:
                    groups.append(tuple(current))
                current = []
            current.append(c)
        if len(current) > 1:
            groups.append(tuple(current))
    return groups
