"""The InventoryItem aggregate: stock of one sku at one location, the authority on reservations.

available = on_hand − reserved, and no command may make it negative: this one
aggregate per (sku, location), with one writer, is what stops overselling.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from oms_events.domain.errors import (
    InsufficientStock,
    InvalidOrder,
    InvalidQuantity,
    InvalidThreshold,
    QuantityOverLimit,
    ReasonRequired,
    ReservationConflict,
    StockAdjustmentInvalid,
    UnknownReservation,
)
from oms_events.domain.ids import natural_id
from oms_events.domain.limits import MAX_UNITS

# How long, in event time, a settled (released or committed) reservation is remembered
# so that a redelivered command for it has no second effect; after that it leaves the
# item (kept in two generations, so between one and two of these).
SETTLED_MEMORY = timedelta(days=1)


class ReservationOutcome(StrEnum):
    """What ``InventoryItem.try_reserve`` did."""

    RESERVED = "reserved"
    DUPLICATE = "duplicate"  # already reserved (or closed) under this id: nothing recorded
    REJECTED = "rejected"  # ReservationRejected recorded


class InventoryItem(Aggregate):
    """Stock of one sku at one location."""

    # 2: settled reservations age out (closed_earlier, closed_since). Snapshots of
    # version 1 are upcast when they are restored.
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A version 1 snapshot remembered every settled reservation in one dict."""
        state.setdefault("closed_earlier", {})
        state.setdefault("closed_since", None)

    @staticmethod
    def create_id(sku: str, location: str) -> UUID:
        """The item id: one aggregate per (sku, location), found without a lookup."""
        return natural_id("inventory", sku, location)

    @classmethod
    def id_for(cls, sku: str, location: str) -> UUID:
        """Alias of ``create_id`` for callers that only hold a sku and a location."""
        return cls.create_id(sku, location)

    @classmethod
    def register(cls, sku: str, location: str, low_stock_threshold: int = 0) -> InventoryItem:
        """Start tracking ``sku`` at ``location`` with nothing on hand (``ItemRegistered``)."""
        if not sku.strip() or not location.strip():
            raise InvalidOrder(detail="sku and location are required")
        cls._check_threshold(low_stock_threshold)
        item = cls(sku=sku, location=location, low_stock_threshold=low_stock_threshold)
        # Nothing on hand is below any positive threshold: say so from the start,
        # so is_low always equals available < threshold.
        item._note_level()
        return item

    @event("ItemRegistered")
    def __init__(self, sku: str, location: str, low_stock_threshold: int) -> None:
        self.sku = sku
        self.location = location
        self.on_hand = 0
        self.low_stock_threshold = low_stock_threshold
        self.is_low = False
        # Open reservations: reservation id -> (order id, quantity).
        self.reservations: dict[UUID, tuple[UUID, int]] = {}
        # Their total, kept as they open and close: summing the open reservations on
        # every reserve cost O(open reservations), and a popular item holds thousands.
        self.reserved_units = 0
        # Closed reservations remember how they closed ("released" or "committed"),
        # so a redelivered command after the close has no second effect: those closed
        # since ``closed_since``, and the generation before (see SETTLED_MEMORY).
        self.closed_reservations: dict[UUID, str] = {}
        self.closed_earlier: dict[UUID, str] = {}
        self.closed_since: datetime | None = None
        self.restocked_returns: set[UUID] = set()

    # --- derived state ----------------------------------------------------------

    @property
    def reserved(self) -> int:
        """Units promised to open reservations (their sum, kept up to date)."""
        return self.reserved_units

    @property
    def available(self) -> int:
        """Units that can still be reserved."""
        return self.on_hand - self.reserved

    def closed_as(self, reservation_id: UUID) -> str | None:
        """How a settled reservation closed ("released", "committed"), or None."""
        found = self.closed_reservations.get(reservation_id)
        return found if found is not None else self.closed_earlier.get(reservation_id)

    def _settle(self, reservation_id: UUID, outcome: str) -> None:
        # Called while an event is applied: modified_on is then the previous event's
        # time, so a replay ages reservations out exactly as the live item did.
        now = self.modified_on
        if self.closed_since is None:
            self.closed_since = now
        elif now - self.closed_since > SETTLED_MEMORY:
            self.closed_earlier = self.closed_reservations
            self.closed_reservations = {}
            self.closed_since = now
        self.closed_reservations[reservation_id] = outcome

    # --- checks -----------------------------------------------------------------

    @staticmethod
    def _check_threshold(threshold: int) -> None:
        if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 0:
            raise InvalidThreshold(threshold=threshold)

    @staticmethod
    def check_reason(reason: str) -> None:
        """Raise ReasonRequired for an empty reason: stock never moves unexplained."""
        if not reason or not reason.strip():
            raise ReasonRequired()

    def check_available(self, quantity: int) -> None:
        """Raise InsufficientStock when fewer than ``quantity`` units are available."""
        if quantity > self.available:
            raise InsufficientStock(
                sku=self.sku, location=self.location, requested=quantity, available=self.available
            )

    def check_open(self, reservation_id: UUID) -> tuple[UUID, int]:
        """Return the open reservation, or raise UnknownReservation."""
        try:
            return self.reservations[reservation_id]
        except KeyError:
            raise UnknownReservation(reservation_id=reservation_id) from None

    def _is_duplicate_reserve(self, reservation_id: UUID, order_id: UUID, quantity: int) -> bool:
        # True when this exact reservation was already made; raises on a reused id.
        if self.closed_as(reservation_id) is not None:
            return True
        existing = self.reservations.get(reservation_id)
        if existing is None:
            return False
        if existing != (order_id, quantity):
            raise ReservationConflict(
                reservation_id=reservation_id,
                detail=f"held as {existing[1]} for order {existing[0]}",
            )
        return True

    # --- receiving and adjusting --------------------------------------------------

    def receive(self, quantity: int, reason: str) -> None:
        """Add received units (``StockReceived``), e.g. a purchase order arriving."""
        InvalidQuantity.check(quantity)
        self.check_reason(reason)
        self._check_level(self.on_hand + quantity)
        self._received(quantity=quantity, reason=reason)
        self._note_level()

    @event("StockReceived")
    def _received(self, quantity: int, reason: str) -> None:
        self.on_hand += quantity

    def adjust(self, delta: int, reason: str) -> None:
        """Correct on-hand by ``delta`` (``StockAdjusted``), e.g. after a count or damage.

        Never below zero and never below what is reserved: reserved units are
        promised to customers, so shrinkage must release them first.
        """
        if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
            raise InvalidQuantity(quantity=delta)
        self.check_reason(reason)
        new_on_hand = self.on_hand + delta
        self._check_level(new_on_hand)
        if new_on_hand < 0 or new_on_hand < self.reserved:
            raise StockAdjustmentInvalid(
                sku=self.sku, delta=delta, on_hand=new_on_hand, reserved=self.reserved
            )
        self._adjusted(delta=delta, reason=reason)
        self._note_level()

    @event("StockAdjusted")
    def _adjusted(self, delta: int, reason: str) -> None:
        self.on_hand += delta

    def restock(self, return_id: UUID, quantity: int) -> None:
        """Put returned units back on hand (``StockRestocked``); once per return."""
        InvalidQuantity.check(quantity)
        if return_id in self.restocked_returns:
            return
        self._check_level(self.on_hand + quantity)
        self._restocked(return_id=return_id, quantity=quantity)
        self._note_level()

    @event("StockRestocked")
    def _restocked(self, return_id: UUID, quantity: int) -> None:
        self.on_hand += quantity
        self.restocked_returns.add(return_id)

    # --- reservations -------------------------------------------------------------

    def reserve(self, reservation_id: UUID, order_id: UUID, quantity: int) -> None:
        """Reserve units for an order (``StockReserved``) or raise InsufficientStock.

        Reserving an id already reserved (or since closed) does nothing, so a
        redelivered ReserveStock command cannot reserve twice.
        """
        InvalidQuantity.check(quantity)
        if self._is_duplicate_reserve(reservation_id, order_id, quantity):
            return
        self.check_available(quantity)
        self._reserved(reservation_id=reservation_id, order_id=order_id, quantity=quantity)
        self._note_level()

    def try_reserve(
        self, reservation_id: UUID, order_id: UUID, quantity: int
    ) -> ReservationOutcome:
        """Reserve, or record ``ReservationRejected`` so the order learns why.

        The engine uses this one: a shortage is a fact worth an event, not
        only an exception.
        """
        InvalidQuantity.check(quantity)
        if self._is_duplicate_reserve(reservation_id, order_id, quantity):
            return ReservationOutcome.DUPLICATE
        try:
            self.check_available(quantity)
        except InsufficientStock as error:
            self._reservation_rejected(
                reservation_id=reservation_id,
                order_id=order_id,
                quantity=quantity,
                available=self.available,
                reason=error.code,
            )
            return ReservationOutcome.REJECTED
        self._reserved(reservation_id=reservation_id, order_id=order_id, quantity=quantity)
        self._note_level()
        return ReservationOutcome.RESERVED

    @event("StockReserved")
    def _reserved(self, reservation_id: UUID, order_id: UUID, quantity: int) -> None:
        self.reservations[reservation_id] = (order_id, quantity)
        self.reserved_units += quantity

    @event("ReservationRejected")
    def _reservation_rejected(
        self, reservation_id: UUID, order_id: UUID, quantity: int, available: int, reason: str
    ) -> None:
        """Nothing changes here; the event tells the order why."""

    def release(self, reservation_id: UUID) -> None:
        """Give reserved units back to available (``ReservationReleased``).

        Releasing twice does nothing; releasing a committed reservation is a
        conflict (the goods have left).
        """
        if self.closed_as(reservation_id) == "released":
            return
        if self.closed_as(reservation_id) == "committed":
            raise ReservationConflict(reservation_id=reservation_id, detail="already shipped")
        order_id, quantity = self.check_open(reservation_id)
        self._released(reservation_id=reservation_id, order_id=order_id, quantity=quantity)
        self._note_level()

    @event("ReservationReleased")
    def _released(self, reservation_id: UUID, order_id: UUID, quantity: int) -> None:
        del self.reservations[reservation_id]
        self.reserved_units -= quantity
        self._settle(reservation_id, "released")

    def commit(self, reservation_id: UUID) -> None:
        """Ship reserved units (``ReservationCommitted``): on-hand and reserved both drop.

        Committing twice does nothing; committing a released reservation is a conflict.
        """
        if self.closed_as(reservation_id) == "committed":
            return
        if self.closed_as(reservation_id) == "released":
            raise ReservationConflict(reservation_id=reservation_id, detail="already released")
        order_id, quantity = self.check_open(reservation_id)
        self._committed(reservation_id=reservation_id, order_id=order_id, quantity=quantity)
        # available is unchanged by a commit, so no low-stock check is needed.

    @event("ReservationCommitted")
    def _committed(self, reservation_id: UUID, order_id: UUID, quantity: int) -> None:
        del self.reservations[reservation_id]
        self.reserved_units -= quantity
        self._settle(reservation_id, "committed")
        self.on_hand -= quantity

    # --- low stock ----------------------------------------------------------------

    def set_threshold(self, threshold: int) -> None:
        """Set the low-stock threshold (``ThresholdSet``); available below it is low."""
        self._check_threshold(threshold)
        if threshold == self.low_stock_threshold:
            return
        self._threshold_set(threshold=threshold)
        self._note_level()

    @event("ThresholdSet")
    def _threshold_set(self, threshold: int) -> None:
        self.low_stock_threshold = threshold

    @staticmethod
    def _check_level(on_hand: int) -> None:
        # A stock level has the same ceiling as a quantity (limits.MAX_UNITS): two
        # receipts of 10^9 would otherwise build a level no projection can store.
        if on_hand > MAX_UNITS:
            raise QuantityOverLimit(quantity=on_hand, limit=MAX_UNITS)

    def _note_level(self) -> None:
        # One LowStock per crossing below, one StockReplenished per crossing back.
        low = self.available < self.low_stock_threshold
        if low and not self.is_low:
            self._low_stock(available=self.available, threshold=self.low_stock_threshold)
        elif not low and self.is_low:
            self._replenished(available=self.available, threshold=self.low_stock_threshold)

    @event("LowStock")
    def _low_stock(self, available: int, threshold: int) -> None:
        self.is_low = True

    @event("StockReplenished")
    def _replenished(self, available: int, threshold: int) -> None:
        self.is_low = False
