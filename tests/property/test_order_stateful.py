"""Stateful property test of the Order aggregate.

Any sequence of commands moves the order only along the lifecycle's edges,
keeps the totals and reservations consistent with the lines, refuses a command
without changing anything, and replays to the same state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from oms_events.domain import Money, Order, OrderStatus, PaymentMethod
from oms_events.domain.errors import (
    CancelTooLate,
    DomainError,
    InvalidTransition,
    LinesNotReserved,
    OrderLocked,
    UnknownLine,
)
from oms_events.domain.order import InterceptionOutcome
from oms_events.engine.commands import (
    AddedLine,
    EditOrder,
    HoldOrder,
    NewQuantity,
    RecordOfflinePayment,
    RecordShipmentWithdrawn,
    ReleaseOrder,
    RerouteOrder,
    WithdrawShipment,
)
from tests.unit.domain.samples import address, cny, line, order, replay, state
from tests.unit.engine.flow import Ask, Flow, Result, place
from tests.unit.engine.flow import order_id as flow_order_id

S = OrderStatus
# Every status change a single command may cause (self-loops are always allowed).
EDGES = {
    # Allocating an order not confirmed yet confirms it in the same event.
    S.PENDING: {S.PRE_ORDER, S.ON_HOLD, S.CONFIRMED, S.ALLOCATED, S.CANCELLED, S.REJECTED},
    S.PRE_ORDER: {S.ON_HOLD, S.CONFIRMED, S.ALLOCATED, S.CANCELLED, S.REJECTED},
    S.ON_HOLD: {S.PENDING, S.PRE_ORDER, S.CONFIRMED, S.CANCELLED, S.REJECTED},
    S.CONFIRMED: {S.PENDING, S.ON_HOLD, S.ALLOCATED, S.CANCELLED},
    S.ALLOCATED: {S.PARTIALLY_SHIPPED, S.SHIPPED, S.CANCELLED},
    # Cancelled once shipped when the carrier intercepted every parcel.
    S.PARTIALLY_SHIPPED: {S.SHIPPED, S.CANCELLED},
    S.SHIPPED: {S.DELIVERED, S.CANCELLED},
    S.DELIVERED: {S.COMPLETED},
    S.COMPLETED: set(),
    S.CANCELLED: set(),
    S.REJECTED: set(),
}
BEFORE_ALLOCATION = {S.PENDING, S.PRE_ORDER, S.ON_HOLD, S.CONFIRMED}
ON_THE_ROAD = {S.PARTIALLY_SHIPPED, S.SHIPPED}
FULFILLED = {S.SHIPPED, S.DELIVERED, S.COMPLETED}
LINE_PICK = st.integers(min_value=0, max_value=5)
RARELY = st.integers(min_value=0, max_value=4).map(lambda x: x == 0)
LOCATIONS = st.sampled_from(["WH-SH", "WH-BJ"])


# An unknown line is refused; the error may name the status first when nothing may change.
UnknownLineOrClosed = DomainError


class OrderMachine(RuleBasedStateMachine):
    """Drives one Order through random commands."""

    order: Order
    events: list[Any]

    @initialize(
        quantities=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=3),
        price=st.integers(min_value=0, max_value=5000),
        discount_pct=st.integers(min_value=0, max_value=100),
        method=st.sampled_from(list(PaymentMethod)),
    )
    def place(
        self, quantities: list[int], price: int, discount_pct: int, method: PaymentMethod
    ) -> None:
        lines = [
            line(n, f"SKU-{n}", q, price, price * q * discount_pct // 100)
            for n, q in enumerate(quantities, start=1)
        ]
        self.order = order(lines=lines, payment_method=method)
        self.events = list(self.order.collect_events())
        self.status_before = self.order.status
        self.line_nos_seen = set(self.order.lines)

    def pick(self, index: int) -> int:
        """One of the order's line numbers."""
        line_nos = sorted(self.order.lines)
        return line_nos[index % len(line_nos)]

    def attempt(
        self,
        command: Callable[[], object],
        must_fail: type[DomainError] | None = None,
        must_succeed: bool = False,
    ) -> bool:
        """Run a command; a refused one must leave no trace. True when it succeeded."""
        before = state(self.order)
        self.status_before = self.order.status
        try:
            command()
        except DomainError:
            assert not must_succeed
            assert state(self.order) == before
            assert self.order.collect_events() == []
            return False
        assert must_fail is None, f"expected {must_fail.__name__}"
        self.events += self.order.collect_events()
        return True

    # --- commands -------------------------------------------------------------------

    @rule(index=LINE_PICK, location=LOCATIONS, stale=RARELY)
    def reserve_line(self, index: int, location: str, stale: bool) -> None:
        n = self.pick(index)
        rid = (
            Order.reservation_id_for(self.order.id, n, 0) if stale else self.order.reservation_id(n)
        )
        self.attempt(lambda: self.order.reserve_line(n, rid, location))

    @rule(location=LOCATIONS)
    def reserve_every_line(self, location: str) -> None:
        """What the saga does after OrderPlaced: ask for every unreserved line."""
        for n in self.order.unreserved_lines():
            self.attempt(
                lambda n=n: self.order.reserve_line(n, self.order.reservation_id(n), location)
            )

    @rule()
    def touch_an_unknown_line(self) -> None:
        self.attempt(
            lambda: self.order.reserve_line(99, self.order.id, "WH-SH"), UnknownLineOrClosed
        )
        self.attempt(lambda: self.order.change_quantity(99, 1), UnknownLineOrClosed)
        self.attempt(lambda: self.order.ship_line(99, "S-1"), UnknownLine)

    @rule(index=LINE_PICK, location=LOCATIONS)
    def reserve_line_again(self, index: int, location: str) -> None:
        """A redelivered reservation is accepted with no event."""
        n = self.pick(index)
        if n in self.order.reservations:
            rid, where = self.order.reservations[n]
            count = len(self.events)
            self.attempt(lambda: self.order.reserve_line(n, rid, where), must_succeed=True)
            assert len(self.events) == count

    @rule()
    def confirm(self) -> None:
        expected: type[DomainError] | None = None
        if self.order.status not in (S.PENDING, S.PRE_ORDER):
            expected = InvalidTransition
        elif not self.order.all_lines_reserved:
            expected = LinesNotReserved
        self.attempt(self.order.confirm, expected, must_succeed=expected is None)

    @rule()
    def pre_order(self) -> None:
        self.attempt(self.order.pre_order)

    @rule(now=RARELY)
    def reject(self, now: bool) -> None:
        # Closing commands are drawn rarely, so most runs get far into the lifecycle.
        if now:
            self.attempt(lambda: self.order.reject("stock.insufficient"))

    @rule()
    def hold(self) -> None:
        self.attempt(lambda: self.order.hold("review"))

    @rule()
    def release_hold(self) -> None:
        self.attempt(self.order.release_hold)

    @rule(now=RARELY)
    def cancel(self, now: bool) -> None:
        if not now:
            return
        status = self.order.status
        # Before shipping it cancels; once shipped it asks for an interception; once
        # cancelled again it does nothing.
        cancellable = status in BEFORE_ALLOCATION | {S.ALLOCATED, S.CANCELLED} | ON_THE_ROAD
        refused = CancelTooLate if status in (S.DELIVERED, S.COMPLETED) else InvalidTransition
        self.attempt(
            lambda: self.order.cancel("customer asked"),
            None if cancellable else refused,
            must_succeed=cancellable,
        )

    @rule(
        shipment=st.sampled_from(["S-1", "S-2"]),
        outcome=st.sampled_from(list(InterceptionOutcome)),
    )
    def interception(self, shipment: str, outcome: InterceptionOutcome) -> None:
        """The carrier's answer to an interception, asked for or not: never refused."""
        self.attempt(
            lambda: self.order.record_interception(shipment, outcome, "carrier says"),
            must_succeed=True,
        )

    @rule(index=LINE_PICK, quantity=st.integers(min_value=1, max_value=6))
    def change_quantity(self, index: int, quantity: int) -> None:
        n = self.pick(index)
        locked = self.order.status not in BEFORE_ALLOCATION
        self.attempt(
            lambda: self.order.change_quantity(n, quantity),
            OrderLocked if locked else None,
            must_succeed=not locked and n in self.order.lines,
        )

    @rule(
        quantity=st.integers(min_value=1, max_value=4),
        price=st.integers(0, 3000),
        discount=st.integers(0, 500),
    )
    def add_line(self, quantity: int, price: int, discount: int) -> None:
        discount = min(discount, price * quantity)
        if self.attempt(lambda: self.order.add_line("SKU-X", quantity, cny(price), cny(discount))):
            new = max(self.order.lines)
            assert new not in self.line_nos_seen, "line numbers are never reused"
            self.line_nos_seen.add(new)

    @rule(index=LINE_PICK)
    def remove_line(self, index: int) -> None:
        self.attempt(lambda: self.order.remove_line(self.pick(index)))

    @rule(fee=st.integers(min_value=0, max_value=2000))
    def change_address(self, fee: int) -> None:
        self.attempt(lambda: self.order.change_address(address(), cny(fee)))

    @rule(payment_id=st.sampled_from(["pay-1", "pay-2", "pay-3"]), full=st.booleans())
    def record_payment(self, payment_id: str, full: bool) -> None:
        amount = self.order.total if full else cny(100)
        if amount.amount > 0:
            self.attempt(lambda: self.order.record_payment(payment_id, amount))

    @rule()
    def allocate(self) -> None:
        self.attempt(self.order.allocate)

    @rule(location=LOCATIONS, stale=RARELY)
    def allocate_with_the_last_answers(self, location: str, stale: bool) -> None:
        """What the saga does when one answer reserves the last lines: one OrderAllocated
        carrying them."""
        o = self.order
        reserving = [
            (n, Order.reservation_id_for(o.id, n, 0) if stale else o.reservation_id(n), location)
            for n in o.unreserved_lines()
        ]
        self.attempt(lambda: o.allocate(reserving))

    @rule(location=LOCATIONS)
    def reserve_lines_in_one_answer(self, location: str) -> None:
        o = self.order
        self.attempt(
            lambda: o.reserve_lines(
                [(n, o.reservation_id(n), location) for n in o.unreserved_lines()]
            )
        )

    @rule(index=LINE_PICK, shipment=st.sampled_from(["S-1", "S-2"]))
    def ship_line(self, index: int, shipment: str) -> None:
        self.attempt(lambda: self.order.ship_line(self.pick(index), shipment))

    @rule()
    def ship_every_line(self) -> None:
        """What the warehouse reports when the whole order leaves in one shipment."""
        for n in sorted(self.order.lines):
            self.attempt(lambda n=n: self.order.ship_line(n, "S-1"))

    @rule()
    def advance(self) -> None:
        """Take the happy path's next step, as the sagas would."""
        o = self.order
        if o.status in (S.PENDING, S.PRE_ORDER):
            self.reserve_every_line("WH-SH")
            self.attempt(o.confirm, must_succeed=o.status in (S.PENDING, S.PRE_ORDER))
        elif o.status is S.ON_HOLD:
            self.attempt(o.release_hold, must_succeed=True)
        elif o.status is S.CONFIRMED:
            self.attempt(o.allocate, must_succeed=True)
        elif o.status in (S.ALLOCATED, S.PARTIALLY_SHIPPED):
            # One line at a time, so multi-line orders pass through partially_shipped.
            n = min(set(o.lines) - set(o.shipments))
            self.attempt(lambda: o.ship_line(n, f"S-{n}"), must_succeed=True)
        elif o.status is S.SHIPPED:
            self.attempt(o.deliver, must_succeed=True)
        elif o.status is S.DELIVERED:
            if not o.is_paid:
                self.attempt(lambda: o.record_payment("balance", o.total - o.amount_paid))
            self.attempt(o.complete, must_succeed=True)

    @rule()
    def deliver(self) -> None:
        self.attempt(self.order.deliver)

    @rule()
    def complete(self) -> None:
        self.attempt(self.order.complete)

    # --- invariants -----------------------------------------------------------------

    @invariant()
    def moves_only_along_the_lifecycle(self) -> None:
        before, now = self.status_before, self.order.status
        assert now == before or now in EDGES[before], f"{before} -> {now}"

    @invariant()
    def totals_follow_the_lines(self) -> None:
        o = self.order
        nets = sum(
            ln.unit_price.amount * ln.quantity - ln.discount.amount for ln in o.lines.values()
        )
        assert o.total == Money(nets + o.shipping_fee.amount, "CNY")
        assert all(0 <= ln.discount.amount <= ln.gross.amount for ln in o.lines.values())
        assert o.lines, "an order always has a line"

    @invariant()
    def reservations_follow_the_lines(self) -> None:
        o = self.order
        assert set(o.reservations) <= set(o.lines)
        if o.status in {S.CONFIRMED, S.ALLOCATED, S.PARTIALLY_SHIPPED} | FULFILLED:
            assert o.all_lines_reserved
        if o.status in (S.CANCELLED, S.REJECTED):
            assert o.reservations == {}
        for n, (rid, _) in o.reservations.items():
            assert rid == o.reservation_id(n)

    @invariant()
    def shipping_follows_the_lines(self) -> None:
        o = self.order
        if o.status in FULFILLED:
            assert set(o.shipments) == set(o.lines)
        if o.status is S.PARTIALLY_SHIPPED:
            assert 0 < len(o.shipments) < len(o.lines)
        if o.status in BEFORE_ALLOCATION:
            assert o.shipments == {} and o.allocations == {}

    @invariant()
    def money_owed_is_always_positive(self) -> None:
        for e in self.events:
            if type(e).__name__ in ("PaymentDue", "RefundDue"):
                assert e.amount["amount"] > 0
        if self.order.status is S.COMPLETED:
            assert self.order.is_paid

    @invariant()
    def replay_rebuilds_the_same_order(self) -> None:
        assert state(replay(self.events)) == state(self.order)


OrderMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
TestOrderStateful = OrderMachine.TestCase


# --- an operator's hold / release / edit / payment, through the order service ----------


class OperatorFlowMachine(RuleBasedStateMachine):
    """Interleaves an operator's holds, releases, edits, offline payments and re-routes
    with the inventory's and the old shipment's answers, through the order service and
    its saga (no Kafka): the order's
    totals follow its lines, every reservation it holds is one the inventory made, and
    none is left behind at the inventory once the answers are in."""

    @initialize(quantities=st.lists(st.integers(min_value=1, max_value=3), min_size=1, max_size=2))
    def place(self, quantities: list[int]) -> None:
        self.flow = Flow(
            {("TEA", "SH"): 1000, ("CUP", "SH"): 1000, ("TEA", "BJ"): 500, ("CUP", "BJ"): 500}
        )
        self.placed = place(
            lines=[("TEA" if n % 2 else "CUP", q) for n, q in enumerate(quantities, 1)]
        )
        self.id = flow_order_id(self.placed)
        self.pending: list[Ask] = []
        self.withdrawals: list[WithdrawShipment] = []  # asked of the old shipment
        self.held: set[Any] = set()  # reservation ids the inventory holds for the order
        self.n = 0
        self.take(self.flow.send(self.placed))
        # Held from the start, as an order failing review is: edits can happen until an
        # operator releases it (after that the answers allocate it and edits are refused).
        self.hold()

    def take(self, result: Result) -> None:
        """Note what the inventory was asked to reserve and to release."""
        assert not result.dead, [d.headers for d in result.dead]
        self.pending += result.asks()
        self.withdrawals += result.commands(WithdrawShipment)
        for r in result.releases():
            self.held.discard(r.reservation_id)

    def cid(self) -> str:
        self.n += 1
        return f"op-{self.n}"

    @property
    def order(self) -> Order:
        return self.flow.order(self.id)

    @rule(index=st.integers(min_value=0, max_value=5))
    def inventory_answers(self, index: int) -> None:
        if not self.pending:
            return
        ask = self.pending.pop(index % len(self.pending))
        self.held.add(ask.reservation_id)
        self.take(self.flow.answer(ask))

    @rule()
    def hold(self) -> None:
        self.take(
            self.flow.send(
                HoldOrder(command_id=self.cid(), order_id=self.id, reason="wait", actor="a")
            )
        )

    @rule()
    def release(self) -> None:
        self.take(self.flow.send(ReleaseOrder(command_id=self.cid(), order_id=self.id, actor="a")))

    @rule(sku=st.sampled_from(["TEA", "CUP"]), quantity=st.integers(min_value=1, max_value=3))
    def add_line(self, sku: str, quantity: int) -> None:
        added = (AddedLine(sku=sku, quantity=quantity, unit_price=300),)
        self.take(
            self.flow.send(EditOrder(command_id=self.cid(), order_id=self.id, add=added, actor="a"))
        )

    @rule(index=LINE_PICK, quantity=st.integers(min_value=1, max_value=4))
    def change_quantity(self, index: int, quantity: int) -> None:
        n = sorted(self.order.lines)[index % len(self.order.lines)]
        q = (NewQuantity(line_no=n, quantity=quantity),)
        self.take(
            self.flow.send(
                EditOrder(command_id=self.cid(), order_id=self.id, quantities=q, actor="a")
            )
        )

    @rule(index=LINE_PICK)
    def remove_line(self, index: int) -> None:
        n = sorted(self.order.lines)[index % len(self.order.lines)]
        self.take(
            self.flow.send(
                EditOrder(command_id=self.cid(), order_id=self.id, remove=(n,), actor="a")
            )
        )

    @rule()
    def pay_what_is_owed(self) -> None:
        owed = (self.order.total - self.order.amount_held).amount
        if owed > 0:
            pay = RecordOfflinePayment(
                command_id=self.cid(),
                order_id=self.id,
                amount=owed,
                currency="CNY",
                method="cash",
                reference=self.cid(),
                actor="cashier",
            )
            self.take(self.flow.send(pay))

    @rule(to=st.sampled_from(["SH", "BJ"]))
    def reroute(self, to: str) -> None:
        """Move what is allocated at the other location to ``to`` (refused unless
        allocated there, nothing shipped, no re-route under way)."""
        other = "BJ" if to == "SH" else "SH"
        command = RerouteOrder(
            command_id=self.cid(),
            order_id=self.id,
            from_location=other,
            to_location=to,
            actor="a",
        )
        self.take(self.flow.send(command))

    @rule(withdrawn=st.booleans())
    def old_shipment_answers(self, withdrawn: bool) -> None:
        """Withdrawn before pick, or refused: picked already."""
        if not self.withdrawals:
            return
        w = self.withdrawals.pop(0)
        answer = RecordShipmentWithdrawn(
            command_id=self.cid(),
            order_id=self.id,
            shipment_id=w.shipment_id,
            withdrawn=withdrawn,
            reason="" if withdrawn else "the shipment is picked",
        )
        self.take(self.flow.send(answer))

    @invariant()
    def totals_follow_the_lines(self) -> None:
        o = self.order
        assert o.total.amount == sum(ln.net.amount for ln in o.lines.values())

    @invariant()
    def the_order_holds_only_what_the_inventory_reserved(self) -> None:
        o = self.order
        held_by_order = {rid for rid, _ in o.reservations.values()}
        if o.rerouting is not None:  # a re-route's new reservations, taken so far
            held_by_order |= {UUID(r) for n, r in o.rerouting[2] if n in o.reroute_reserved}
        assert held_by_order <= self.held
        if not self.pending:  # every answer in: nothing left behind at the inventory
            assert held_by_order == self.held

    @invariant()
    def an_allocated_line_is_reserved_where_it_ships(self) -> None:
        o = self.order
        for n, location in o.allocations.items():
            assert o.reservations[n][1] == location

    @invariant()
    def a_released_paid_reserved_order_is_allocated(self) -> None:
        o = self.order
        if o.status is not S.ON_HOLD and o.all_lines_reserved and o.is_paid:
            assert o.status is S.ALLOCATED


OperatorFlowMachine.TestCase.settings = settings(
    max_examples=120, stateful_step_count=40, deadline=None
)
TestOperatorFlow = OperatorFlowMachine.TestCase
