"""Stateful property test of merging (合单) and splitting (拆单) orders.

Orders of a few customers (phones and addresses written in several ways) are placed,
split by availability (some lines reserved already, as the engine splits them: those
ship whole), refilled as stock arrives, picked and merged in any sequence.
Throughout, every unit of every order line is in exactly one place (its order's
shipment, a merge group's parcel, or a backorder), the quantities and the money of
each line add up to what the customer ordered, and a merge is refused exactly when
an independent reading of the rules says it must be.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from oms_events.domain.backorder import (
    Part,
    SplitRefused,
    fill_backorder,
    split_by_availability,
)
from oms_events.domain.consolidation import (
    MergeCandidate,
    MergePolicy,
    MergeRefused,
    ParcelLine,
    customer_identities,
    normalized_address,
    plan_merge,
)
from oms_events.domain.customer import Address, Customer
from oms_events.domain.line import OrderLine
from oms_events.domain.money import Money
from oms_events.domain.order import OrderStatus

T0 = datetime(2026, 11, 11, tzinfo=UTC)
POLICY = MergePolicy(window=timedelta(hours=24), cross_channel=False)
SKUS = ("A1", "B2", "C3")
LOCATIONS = ("WH-SH", "WH-BJ")

# Two customers, each with their phone written three ways; one shares nothing.
PHONES = (
    ("13800000001", "+86 138 0000 0001", "138-0000-0001"),
    ("13900000002", "+8613900000002", "139 0000 0002"),
)
# Two addresses, each written three ways (spaces, full-width digits, district in line1).
ADDRESSES = (
    (
        Address("望京街10号", "CN", "北京市", "北京市", "朝阳区"),
        Address("望京街 10 号", "CN", "北京市", "北京市", "朝阳区", "100102"),
        Address("朝阳区望京街１０号", "CN", "北京市", "北京市", None),
    ),
    (
        Address("科技园路1号", "CN", "深圳市", "广东省", "南山区"),
        Address("科技园路 1 号", "CN", "深圳市", "广东省", "南山区"),
        Address("南山区，科技园路1号", "CN", "深圳市", "广东省", None),
    ),
)


@dataclass
class Placed:
    """One order as the test knows it (the oracle's facts next to the rules' view)."""

    order_id: UUID
    order_no: str
    customer: int  # index into PHONES
    address: int  # index into ADDRESSES
    phone: str
    where: Address
    channel: str
    placed_at: datetime
    status: OrderStatus
    paid: bool
    lines: tuple[OrderLine, ...]
    locations: dict[int, str]
    picked: bool = False
    merged: UUID | None = None
    split: bool = False
    # Where each unit is now: (part, place); place is "shipment", "parcel:<group>:<loc>"
    # or "backorder".
    parts: list[tuple[Part, str]] = field(default_factory=list)


def _part(line: OrderLine) -> Part:
    return Part(line.line_no, line.sku, line.quantity, line.unit_price, line.discount)


lines_strategy = st.lists(
    st.tuples(
        st.sampled_from(SKUS),
        st.integers(1, 5),
        st.integers(0, 5000),
        st.integers(0, 100),
        st.sampled_from(LOCATIONS),
    ),
    min_size=1,
    max_size=3,
)


class MergeSplitMachine(RuleBasedStateMachine):
    """Orders placed, split, refilled, picked and merged in any order."""

    def __init__(self) -> None:
        super().__init__()
        self.orders: dict[UUID, Placed] = {}
        self.groups: dict[UUID, tuple[UUID, ...]] = {}

    # --- actions -----------------------------------------------------------------

    @rule(
        customer=st.integers(0, 1),
        phone_form=st.integers(0, 2),
        address=st.integers(0, 1),
        address_form=st.integers(0, 2),
        channel=st.sampled_from(("tmall", "tmall", "tmall", "jd")),
        hours=st.integers(0, 30),
        status=st.sampled_from((OrderStatus.CONFIRMED, OrderStatus.ALLOCATED, OrderStatus.PENDING)),
        paid=st.sampled_from((True, True, True, False)),
        raw=lines_strategy,
    )
    def place(
        self,
        customer: int,
        phone_form: int,
        address: int,
        address_form: int,
        channel: str,
        hours: int,
        status: OrderStatus,
        paid: bool,
        raw: list[tuple[str, int, int, int, str]],
    ) -> None:
        lines = tuple(
            OrderLine(
                n,
                sku,
                qty,
                Money(price, "CNY"),
                Money(price * qty * pct // 100, "CNY"),
            )
            for n, (sku, qty, price, pct, _) in enumerate(raw, start=1)
        )
        order_id = uuid4()
        placed = Placed(
            order_id=order_id,
            order_no=f"SO-{len(self.orders) + 1}",
            customer=customer,
            address=address,
            phone=PHONES[customer][phone_form],
            where=ADDRESSES[address][address_form],
            channel=channel,
            placed_at=T0 + timedelta(hours=hours),
            status=status,
            paid=paid,
            lines=lines,
            locations={n: loc for n, (*_, loc) in enumerate(raw, start=1)},
        )
        placed.parts = [(_part(line), "shipment") for line in lines]
        self.orders[order_id] = placed

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def split(self, data: st.DataObject) -> None:
        o = data.draw(st.sampled_from(sorted(self.orders.values(), key=lambda o: o.order_no)))
        if o.split or o.merged is not None or o.picked:
            return  # the test splits a whole order once, before it ships together
        available = data.draw(st.dictionaries(st.sampled_from(SKUS), st.integers(0, 8)))
        # Lines the engine reserved already: their units count as available (held for
        # them), and they are served first, so they ship whole.
        reserved = data.draw(st.sets(st.sampled_from([line.line_no for line in o.lines])))
        for line in o.lines:
            if line.line_no in reserved:
                available[line.sku] = available.get(line.sku, 0) + line.quantity
        wanted = Counter[str]()
        for line in o.lines:
            wanted[line.sku] += line.quantity
        short = any(available.get(sku, 0) < n for sku, n in wanted.items())
        some = any(available.get(line.sku, 0) > 0 for line in o.lines)
        try:
            plan = split_by_availability(o.lines, available, reserved)
        except SplitRefused:
            assert not (short and some), "a split with some stock and some short was refused"
            return
        assert short and some, "a split without a shortage (or without stock) was made"
        for line in o.lines:
            if line.line_no in reserved:
                assert _part(line) in plan.ship_now, f"reserved line {line.line_no} was cut"
                assert line.line_no not in {p.line_no for p in plan.backorder}
        # Nothing ships now beyond the stock there is.
        shipped = Counter[str]()
        for p in plan.ship_now:
            shipped[p.sku] += p.quantity
        assert all(shipped[s] <= available.get(s, 0) for s in shipped)
        o.split = True
        o.parts = [(p, "shipment") for p in plan.ship_now] + [
            (p, "backorder") for p in plan.backorder
        ]

    @precondition(lambda self: any(o.split for o in self.orders.values()))
    @rule(arrived=st.dictionaries(st.sampled_from(SKUS), st.integers(0, 6)))
    def stock_arrives(self, arrived: dict[str, int]) -> None:
        # Stock goes to backorders oldest order first, as the saga's retry does.
        left = dict(arrived)
        for o in sorted(self.orders.values(), key=lambda o: o.order_no):
            waiting = [p for p, where in o.parts if where == "backorder"]
            if not waiting:
                continue
            ships, waits = fill_backorder(waiting, left)
            for p in ships:
                left[p.sku] -= p.quantity
            o.parts = (
                [(p, w) for p, w in o.parts if w != "backorder"]
                + [(p, "shipment") for p in ships]
                + [(p, "backorder") for p in waits]
            )

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def pick(self, data: st.DataObject) -> None:
        o = data.draw(st.sampled_from(sorted(self.orders.values(), key=lambda o: o.order_no)))
        o.picked = True

    @precondition(lambda self: len(self.orders) >= 2)
    @rule(data=st.data())
    def merge(self, data: st.DataObject) -> None:
        ordered = sorted(self.orders.values(), key=lambda o: o.order_no)
        if data.draw(st.booleans()):
            # Mostly orders of one customer and address (written differently): the
            # merges that should pass, and the window, pick and paid rules that stop them.
            first = data.draw(st.sampled_from(ordered))
            ordered = [
                o for o in ordered if (o.customer, o.address) == (first.customer, first.address)
            ]
        chosen = data.draw(st.lists(st.sampled_from(ordered), min_size=1, max_size=4))
        candidates = [self._candidate(o) for o in chosen]
        try:
            plan = plan_merge(candidates, POLICY)
        except MergeRefused:
            assert not self._may_merge(chosen), "a merge the rules allow was refused"
            return
        assert self._may_merge(chosen), "a merge the rules forbid was made"
        members = {o.order_id: o for o in chosen}
        # Every unit that ships now is in one parcel, once; backorders stay out.
        planned = Counter(
            (line.order_id, line.line_no, line.quantity, line.net.amount)
            for lines in plan.parcels.values()
            for line in lines
        )
        shipping = Counter(
            (o.order_id, p.line_no, p.quantity, p.net.amount)
            for o in members.values()
            for p, where in o.parts
            if where == "shipment"
        )
        assert planned == shipping
        assert plan.order_ids == tuple(sorted(members))
        # The same orders make the same group (an operator's retry finds it).
        assert plan_merge(list(reversed(candidates)), POLICY).group_id == plan.group_id
        for location, lines in plan.parcels.items():
            for line in lines:
                o = members[line.order_id]
                # A parcel leaves from where the line is reserved, nowhere else.
                assert o.locations[line.line_no] == location
                part = self._find(o, line)
                o.parts.remove((part, "shipment"))
                o.parts.append((part, f"parcel:{plan.group_id}:{location}"))
        for o in members.values():
            o.merged = plan.group_id
        self.groups[plan.group_id] = plan.order_ids

    # --- the rules' view and the oracle -------------------------------------------

    def _candidate(self, o: Placed) -> MergeCandidate:
        lines = tuple(
            (
                ParcelLine(o.order_id, o.order_no, p.line_no, p.sku, p.quantity, p.net),
                o.locations[p.line_no],
            )
            for p, where in o.parts
            if where == "shipment"
        )
        return MergeCandidate(
            order_id=o.order_id,
            order_no=o.order_no,
            channel=o.channel,
            identities=customer_identities(Customer("张三", o.phone)),
            address=normalized_address(o.where),
            status=o.status,
            paid=o.paid,
            picked=o.picked,
            placed_at=o.placed_at,
            currency="CNY",
            lines=lines,
            merge_group=o.merged,
        )

    @staticmethod
    def _may_merge(chosen: list[Placed]) -> bool:
        """The rules read from the test's own facts (indexes, not strings)."""
        first = chosen[0]
        placed = [o.placed_at for o in chosen]
        return (
            len({o.order_id for o in chosen}) >= 2
            and all(o.status is not OrderStatus.ALLOCATED for o in chosen)
            and all(o.paid and not o.picked and o.merged is None for o in chosen)
            and all(o.customer == first.customer for o in chosen)
            and all(o.address == first.address for o in chosen)
            and all(o.channel == first.channel for o in chosen)
            and max(placed) - min(placed) <= POLICY.window
        )

    @staticmethod
    def _find(o: Placed, line: ParcelLine) -> Part:
        for p, where in o.parts:
            if (
                where == "shipment"
                and p.line_no == line.line_no
                and p.quantity == line.quantity
                and p.net == line.net
            ):
                return p
        raise AssertionError(f"{o.order_no} line {line.line_no} is not in its shipment")

    # --- invariants --------------------------------------------------------------

    @invariant()
    def units_and_money_conserved(self) -> None:
        for o in self.orders.values():
            for line in o.lines:
                parts = [p for p, _ in o.parts if p.line_no == line.line_no]
                assert parts, f"{o.order_no} line {line.line_no} was lost"
                assert all(p.quantity > 0 for p in parts)
                assert all(p.sku == line.sku and p.unit_price == line.unit_price for p in parts)
                assert sum(p.quantity for p in parts) == line.quantity
                assert Money.sum((p.net for p in parts), "CNY") == line.net
                assert Money.sum((p.discount for p in parts), "CNY") == line.discount
            assert {p.line_no for p, _ in o.parts} == {line.line_no for line in o.lines}

    @invariant()
    def parcels_hold_their_groups_orders_only(self) -> None:
        for o in self.orders.values():
            for _, where in o.parts:
                if where.startswith("parcel:"):
                    group = UUID(where.split(":")[1])
                    assert o.merged == group and o.order_id in self.groups[group]
        for members in self.groups.values():
            orders = [self.orders[i] for i in members]
            assert len({(o.customer, o.address, o.channel) for o in orders}) == 1

    @invariant()
    def an_order_is_in_one_group_at_most(self) -> None:
        seen = Counter(i for members in self.groups.values() for i in members)
        assert all(n == 1 for n in seen.values())


MergeSplitMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=30, deadline=None
)
TestMergeSplit = MergeSplitMachine.TestCase
