"""Stateful property tests of InventoryItem against simple models.

Any sequence of receive / adjust / count / reserve / try_reserve / release / commit /
restock / set_threshold keeps on_hand and available non-negative, keeps
reserved equal to the open reservations, records low stock once per
crossing, and replays to the same state. Two items of one sku administered
together (StockAdministrationMachine) add transfers between them: units leave
one, are in transit, arrive at the other, and none is created or lost on the way.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any
from uuid import UUID

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
)

from oms_events.domain import InventoryItem, ReservationOutcome
from oms_events.domain.errors import (
    CountBelowReserved,
    DomainError,
    InsufficientStock,
    InvalidQuantity,
    ReservationConflict,
    StockAdjustmentInvalid,
    TransferConflict,
    UnknownReservation,
    UnknownTransfer,
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

    @rule(counted=st.integers(min_value=-1, max_value=25))
    def count(self, counted: int) -> None:
        if counted < 0:
            expected: type[DomainError] | None = InvalidQuantity
        elif counted < sum(self.open.values()):
            expected = CountBelowReserved
        else:
            expected = None
        self.attempt(lambda: self.item.count(counted, actor="ops"), expected)
        if expected is None:
            self.on_hand = counted
            assert type(self.events[-1]).__name__ in (
                "StockCounted",
                "LowStock",
                "StockReplenished",
            )

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


LOCATIONS = ("WH-A", "WH-B")
LOCATION = st.sampled_from(LOCATIONS)


def low_marks(events: list[Any]) -> list[str]:
    """The LowStock / StockReplenished events, in order."""
    return [
        type(e).__name__ for e in events if type(e).__name__ in ("LowStock", "StockReplenished")
    ]


class StockAdministrationMachine(RuleBasedStateMachine):
    """Two items of one sku, administered as operators do (receive, adjust, count,
    thresholds, transfers between them) while orders reserve, release and ship.

    A transfer is dispatched at its source and expected at its destination by a
    separate step (on Kafka, another partition's transaction), so the model also
    holds transfers dispatched and not yet expected: on their way in the log.
    """

    dispatched = Bundle("dispatched")  # dispatched, the destination not told yet
    expected = Bundle("expected")  # in transit at the destination

    def __init__(self) -> None:
        super().__init__()
        self.items = {loc: InventoryItem.register("SKU-1", loc) for loc in LOCATIONS}
        self.events: dict[str, list[Any]] = {
            loc: list(i.collect_events()) for loc, i in self.items.items()
        }
        self.open: dict[str, dict[UUID, int]] = {loc: {} for loc in LOCATIONS}
        # Units that entered or left the two items from outside: receipts, adjustments,
        # counts and shipments. Transfers move units between them and must not change it.
        self.outside = 0
        self.on_the_wire = 0  # dispatched, not yet expected
        self.transfers = 0
        self.received: list[UUID] = []
        self.lows: dict[str, int] = {loc: 0 for loc in LOCATIONS}  # crossings seen

    def attempt(self, loc: str, command: Callable[[], object], fails: type | None) -> bool:
        """Run a command on one item: it fails exactly when the model says so, then
        changes nothing; True when it succeeded."""
        item = self.items[loc]
        before = state(item)
        try:
            command()
        except DomainError as error:
            assert fails is not None and isinstance(error, fails), error
            assert state(item) == before
            assert item.collect_events() == []
            return False
        assert fails is None, f"expected {fails.__name__}"
        new = list(item.collect_events())
        self.events[loc] += new
        self.check_crossing(loc, new)
        return True

    def check_crossing(self, loc: str, new: list[Any]) -> None:
        """LowStock is recorded exactly when available falls below the threshold, and
        StockReplenished exactly when it is back: never otherwise."""
        item = self.items[loc]
        marks = low_marks(new)
        was_low = self.lows[loc] % 2 == 1
        is_low = item.available < item.low_stock_threshold
        if was_low == is_low:
            assert marks == []
        else:
            assert marks == (["LowStock"] if is_low else ["StockReplenished"])
        self.lows[loc] += len(marks)

    def reserved(self, loc: str) -> int:
        return sum(self.open[loc].values())

    @rule(loc=LOCATION, quantity=st.integers(min_value=1, max_value=20))
    def receive(self, loc: str, quantity: int) -> None:
        self.attempt(loc, lambda: self.items[loc].receive(quantity, "PO", actor="ops"), None)
        self.outside += quantity

    @rule(loc=LOCATION, delta=st.integers(min_value=-12, max_value=12).filter(bool))
    def adjust(self, loc: str, delta: int) -> None:
        item = self.items[loc]
        ok = item.on_hand + delta >= self.reserved(loc)
        done = self.attempt(
            loc,
            lambda: item.adjust(delta, "damage", actor="ops", note="n"),
            None if ok else StockAdjustmentInvalid,
        )
        if done:
            self.outside += delta

    @rule(loc=LOCATION, counted=st.integers(min_value=0, max_value=25))
    def count(self, loc: str, counted: int) -> None:
        item = self.items[loc]
        before = item.on_hand
        ok = counted >= self.reserved(loc)
        if self.attempt(
            loc, lambda: item.count(counted, actor="ops"), None if ok else CountBelowReserved
        ):
            self.outside += counted - before

    @rule(loc=LOCATION, threshold=st.integers(min_value=0, max_value=15))
    def set_threshold(self, loc: str, threshold: int) -> None:
        self.attempt(loc, lambda: self.items[loc].set_threshold(threshold, actor="ops"), None)
        assert type(self.events[loc][-1]).__name__ in (
            "ThresholdSet",
            "LowStock",
            "StockReplenished",
        )

    @rule(loc=LOCATION, rid=RESERVATIONS, quantity=st.integers(min_value=1, max_value=6))
    def reserve(self, loc: str, rid: UUID, quantity: int) -> None:
        item = self.items[loc]
        if rid in self.open[loc] or item.closed_as(rid) is not None:
            return  # the single-item machine covers repeats and conflicts
        short = quantity > item.available
        if self.attempt(
            loc, lambda: item.reserve(rid, ORDER, quantity), InsufficientStock if short else None
        ):
            self.open[loc][rid] = quantity

    @rule(loc=LOCATION, ship=st.booleans())
    def settle(self, loc: str, ship: bool) -> None:
        if not self.open[loc]:
            return
        rid, quantity = next(iter(self.open[loc].items()))
        item = self.items[loc]
        self.attempt(loc, lambda: item.commit(rid) if ship else item.release(rid), None)
        del self.open[loc][rid]
        if ship:
            self.outside -= quantity

    @rule(target=dispatched, source=LOCATION, quantity=st.integers(min_value=1, max_value=10))
    def transfer(self, source: str, quantity: int) -> Any:
        item = self.items[source]
        destination = LOCATIONS[1 - LOCATIONS.index(source)]
        self.transfers += 1
        tid = UUID(int=5000 + self.transfers)
        short = quantity > item.available
        done = self.attempt(
            source,
            lambda: item.dispatch_transfer(tid, destination, quantity, actor="ops"),
            InsufficientStock if short else None,
        )
        if not done:
            return (tid, destination, 0)
        self.on_the_wire += quantity
        return (tid, destination, quantity)

    @rule(target=expected, sent=consumes(dispatched))
    def expect(self, sent: tuple[UUID, str, int]) -> Any:
        tid, destination, quantity = sent
        if quantity == 0:
            return (tid, destination, 0)  # never left: nothing to expect
        item = self.items[destination]
        source = LOCATIONS[1 - LOCATIONS.index(destination)]
        self.attempt(destination, lambda: item.expect_transfer(tid, source, quantity, "ops"), None)
        # Told twice (a redelivered follow-up): nothing more in transit.
        self.attempt(destination, lambda: item.expect_transfer(tid, source, quantity, "ops"), None)
        self.on_the_wire -= quantity
        return (tid, destination, quantity)

    @rule(arrived=consumes(expected))
    def receive_transfer(self, arrived: tuple[UUID, str, int]) -> None:
        tid, destination, quantity = arrived
        item = self.items[destination]
        if quantity == 0:
            self.attempt(destination, lambda: item.receive_transfer(tid, "ops"), UnknownTransfer)
            return
        self.attempt(destination, lambda: item.receive_transfer(tid, "ops"), None)
        self.received.append(tid)

    @precondition(lambda self: bool(self.received))
    @rule(data=st.data())
    def receive_transfer_again(self, data: st.DataObject) -> None:
        tid = data.draw(st.sampled_from(self.received))
        for loc, item in self.items.items():
            fails = TransferConflict if tid in item.transfers_done else UnknownTransfer
            self.attempt(loc, partial(item.receive_transfer, tid, "ops"), fails)

    @invariant()
    def never_negative(self) -> None:
        for item in self.items.values():
            assert item.on_hand >= 0
            assert item.available >= 0
            assert item.in_transit_units >= 0

    @invariant()
    def transfers_conserve_units(self) -> None:
        on_hand = sum(i.on_hand for i in self.items.values())
        in_transit = sum(i.in_transit_units for i in self.items.values())
        assert on_hand + in_transit + self.on_the_wire == self.outside

    @invariant()
    def low_stock_marks_alternate_and_match_the_level(self) -> None:
        for loc, item in self.items.items():
            marks = low_marks(self.events[loc])
            assert all(
                m == ("LowStock" if i % 2 == 0 else "StockReplenished") for i, m in enumerate(marks)
            )
            assert item.is_low == (item.available < item.low_stock_threshold)
            assert item.is_low == (len(marks) % 2 == 1)

    @invariant()
    def replay_rebuilds_the_same_items(self) -> None:
        for loc, item in self.items.items():
            assert state(replay(self.events[loc])) == state(item)


StockAdministrationMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None
)
TestStockAdministration = StockAdministrationMachine.TestCase
