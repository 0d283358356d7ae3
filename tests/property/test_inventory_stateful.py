"""Stateful property test of InventoryItem against a simple model.

Any sequence of receive / adjust / reserve / try_reserve / release / commit /
restock / set_threshold keeps on_hand and available non-negative, keeps
reserved equal to the open reservations, records low stock once per
crossing, and replays to the same state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from oms_events.domain import InventoryItem, ReservationOutcome
from oms_events.domain.errors import (
    DomainError,
    InsufficientStock,
    InvalidQuantity,
    ReservationConflict,
    StockAdjustmentInvalid,
    UnknownReservation,
)
from tests.unit.domain.samples import replay, state

ORDER = UUID(int=100)
# Small pools so the same ids come back: duplicates, conflicts and late releases.
RESERVATIONS = st.sampled_from([UUID(int=i) for i in range(1, 7)])
RETURNS = st.sampled_from([UUID(int=i) for i in range(1001, 1004)])


class InventoryMachine(RuleBasedStateMachine):
    """Drives one InventoryItem and a dict model side by side."""

    def __init__(self) -> None:
        super().__init__()
        self.item = InventoryItem.register("SKU-1", "WH-SH", low_stock_threshold=3)
        self.events: list[Any] = list(self.item.collect_events())
        self.on_hand = 0
        self.open: dict[UUID, int] = {}
        self.closed: dict[UUID, str] = {}
        self.restocked: set[UUID] = set()

    @property
    def available(self) -> int:
        return self.on_hand - sum(self.open.values())

    def attempt(self, command: Callable[[], object], fails_with: type[DomainError] | None) -> Any:
        """Run a command: it fails exactly when the model says so, and then changes nothing."""
        before = state(self.item)
        try:
            result = command()
        except DomainError as error:
            assert fails_with is not None and isinstance(error, fails_with), error
            assert state(self.item) == before
            assert self.item.collect_events() == []
            return None
        assert fails_with is None, f"expected {fails_with.__name__}"
        self.events += self.item.collect_events()
        return result

    @rule(quantity=st.integers(min_value=-2, max_value=20))
    def receive(self, quantity: int) -> None:
        ok = quantity > 0
        self.attempt(lambda: self.item.receive(quantity, "PO"), None if ok else InvalidQuantity)
        if ok:
            self.on_hand += quantity

    @rule(delta=st.integers(min_value=-15, max_value=15))
    def adjust(self, delta: int) -> None:
        if delta == 0:
            expected: type[DomainError] | None = InvalidQuantity
        elif self.on_hand + delta < sum(self.open.values()):  # covers < 0 too
            expected = StockAdjustmentInvalid
        else:
            expected = None
        self.attempt(lambda: self.item.adjust(delta, "count"), expected)
        if expected is None:
            self.on_hand += delta

    @rule(rid=RESERVATIONS, quantity=st.integers(min_value=1, max_value=8), use_try=st.booleans())
    def reserve(self, rid: UUID, quantity: int, use_try: bool) -> None:
        duplicate = rid in self.closed or self.open.get(rid) == quantity
        conflict = rid in self.open and self.open[rid] != quantity
        short = not duplicate and not conflict and quantity > self.available
        if use_try:
            outcome = self.attempt(
                lambda: self.item.try_reserve(rid, ORDER, quantity),
                ReservationConflict if conflict else None,
            )
            if duplicate:
                assert outcome is ReservationOutcome.DUPLICATE
            elif short:
                assert outcome is ReservationOutcome.REJECTED
                assert type(self.events[-1]).__name__ == "ReservationRejected"
            elif not conflict:
                assert outcome is ReservationOutcome.RESERVED
        else:
            expected: type[DomainError] | None = (
                ReservationConflict if conflict else InsufficientStock if short else None
            )
            self.attempt(lambda: self.item.reserve(rid, ORDER, quantity), expected)
        if not (duplicate or conflict or short):
            self.open[rid] = quantity

    @rule(rid=RESERVATIONS)
    def release(self, rid: UUID) -> None:
        status = self.closed.get(rid)
        expected: type[DomainError] | None
        if status == "committed":
            expected = ReservationConflict
        elif status is None and rid not in self.open:
            expected = UnknownReservation
        else:
            expected = None
        self.attempt(lambda: self.item.release(rid), expected)
        if rid in self.open:
            del self.open[rid]
            self.closed[rid] = "released"

    @rule(rid=RESERVATIONS)
    def commit(self, rid: UUID) -> None:
        status = self.closed.get(rid)
        expected: type[DomainError] | None
        if status == "released":
            expected = ReservationConflict
        elif status is None and rid not in self.open:
            expected = UnknownReservation
        else:
            expected = None
        self.attempt(lambda: self.item.commit(rid), expected)
        if rid in self.open:
            self.on_hand -= self.open.pop(rid)
            self.closed[rid] = "committed"

    @rule(return_id=RETURNS, quantity=st.integers(min_value=1, max_value=5))
    def restock(self, return_id: UUID, quantity: int) -> None:
        self.attempt(lambda: self.item.restock(return_id, quantity), None)
        if return_id not in self.restocked:
            self.restocked.add(return_id)
            self.on_hand += quantity

    @precondition(lambda self: len(self.events) > 1)
    @rule(threshold=st.integers(min_value=0, max_value=12))
    def set_threshold(self, threshold: int) -> None:
        self.attempt(lambda: self.item.set_threshold(threshold), None)

    @invariant()
    def never_negative(self) -> None:
        assert self.item.on_hand >= 0
        assert self.item.available >= 0

    @invariant()
    def matches_the_model(self) -> None:
        assert self.item.on_hand == self.on_hand
        assert {r: q for r, (_, q) in self.item.reservations.items()} == self.open
        assert self.item.reserved == sum(self.open.values())
        assert self.item.available == self.available

    @invariant()
    def low_stock_is_recorded_once_per_crossing(self) -> None:
        marks = [
            type(e).__name__
            for e in self.events
            if type(e).__name__ in ("LowStock", "StockReplenished")
        ]
        # Strictly alternating, starting with LowStock, ending where the level is.
        assert all(
            m == ("LowStock" if i % 2 == 0 else "StockReplenished") for i, m in enumerate(marks)
        )
        is_low = self.item.available < self.item.low_stock_threshold
        assert self.item.is_low == is_low == (len(marks) % 2 == 1)

    @invariant()
    def replay_rebuilds_the_same_item(self) -> None:
        assert state(replay(self.events)) == state(self.item)


InventoryMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=30, deadline=None
)
TestInventoryStateful = InventoryMachine.TestCase
