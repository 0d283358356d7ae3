"""The InventoryItem aggregate: stock of one sku at one location, the authority on reservations.

available = on_hand − reserved, and no command may make it negative: this one
aggregate per (sku, location), with one writer, is what stops overselling.

Operators administer it too: adjustments, cycle counts, thresholds and transfers
between locations, each event naming its ``actor``. A transfer leaves the source's
on hand when dispatched (``TransferDispatched``), is in transit at the destination
(``TransferExpected``) and joins the destination's on hand when it arrives
(``TransferReceived``); in-transit units are never available to promise.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from oms_events.domain.errors import (
    CountBelowReserved,
    InsufficientStock,
    InvalidOrder,
    InvalidQuantity,
    InvalidThreshold,
    InvalidTransfer,
    QuantityOverLimit,
    ReasonRequired,
    ReservationConflict,
    StockAdjustmentInvalid,
    TransferConflict,
    UnknownReservation,
    UnknownTransfer,
)
from oms_events.domain.ids import natural_id
from oms_events.domain.limits import MAX_UNITS

# How long, in event time, a settled (released or committed) reservation is remembered
# so that a redelivered command for it has no second effect; after that it leaves the
# item (kept in two generations, so between one and two of these).
SETTLED_MEMORY = timedelta(days=1)


class AdjustmentReason(StrEnum):
    """Why an operator corrects on hand (``oms stock adjust --reason``)."""

    DAMAGE = "damage"
    LOSS = "loss"
    FOUND = "found"
    COUNT_CORRECTION = "count_correction"


class ReservationOutcome(StrEnum):
    """What ``InventoryItem.try_reserve`` did."""

    RESERVED = "reserved"
    DUPLICATE = "duplicate"  # already reserved (or closed) under this id: nothing recorded
    REJECTED = "rejected"  # ReservationRejected recorded


class InventoryItem(Aggregate):
    """Stock of one sku at one location."""

    # 2: settled reservations age out (closed_earlier, closed_since).
    # 3: transfers (in_transit, in_transit_units, transfers_done). Older snapshots are
    # upcast when they are restored.
    class_version = 3

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A version 1 snapshot remembered every settled reservation in one dict."""
        state.setdefault("closed_earlier", {})
        state.setdefault("closed_since", None)

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        """A version 2 snapshot predates transfers: nothing in transit."""
        state.setdefault("in_transit", {})
        state.setdefault("in_transit_units", 0)
        state.setdefault("transfers_done", {})

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
        # Transfers on their way here: transfer id -> (source location, units), and
        # their total (in transit: counted toward replenishment, never promised).
        self.in_transit: dict[UUID, tuple[str, int]] = {}
        self.in_transit_units = 0
        # Transfers this item dispatched or received, so a transfer id is used once
        # per side: transfer id -> "dispatched" | "received". Transfers are rare next
        # to reservations, so they are kept for good.
        self.transfers_done: dict[UUID, str] = {}

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

    def receive(self, quantity: int, reason: str, actor: str = "") -> None:
        """Add received units (``StockReceived``), e.g. a purchase order arriving."""
        InvalidQuantity.check(quantity)
        self.check_reason(reason)
        self._check_level(self.on_hand + quantity)
        self._received(quantity=quantity, reason=reason, actor=actor)
        self._note_level()

    @event("StockReceived")
    def _received(self, quantity: int, reason: str, actor: str = "") -> None:
        self.on_hand += quantity

    def adjust(self, delta: int, reason: str, actor: str = "", note: str = "") -> None:
        """Correct on-hand by ``delta`` (``StockAdjusted``), e.g. after damage or a loss.

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
        self._adjusted(delta=delta, reason=reason, actor=actor, note=note)
        self._note_level()

    @event("StockAdjusted")
    def _adjusted(self, delta: int, reason: str, actor: str = "", note: str = "") -> None:
        self.on_hand += delta

    def count(self, counted: int, actor: str = "", note: str = "") -> None:
        """Record a cycle count (``StockCounted``): on hand becomes ``counted``.

        A count that agrees is recorded too (delta 0): when an item was last counted,
        and by whom, is part of its trace. A count below what is reserved is refused
        (CountBelowReserved), like an adjustment: available never goes negative.
        """
        if not isinstance(counted, int) or isinstance(counted, bool) or counted < 0:
            raise InvalidQuantity(quantity=counted)
        self._check_level(counted)
        if counted < self.reserved:
            raise CountBelowReserved(
                sku=self.sku,
                location=self.location,
                counted=counted,
                reserved=self.reserved,
                shortfall=self.reserved - counted,
            )
        self._counted(counted=counted, delta=counted - self.on_hand, actor=actor, note=note)
        self._note_level()

    @event("StockCounted")
    def _counted(self, counted: int, delta: int, actor: str, note: str) -> None:
        self.on_hand = counted

    def restock(self, return_id: UUID, quantity: int, reason: str | None = None) -> None:
        """Put returned units back on hand (``StockRestocked``), saying why; once per
        return."""
        InvalidQuantity.check(quantity)
        if return_id in self.restocked_returns:
            return
        self._check_level(self.on_hand + quantity)
        self._restocked(return_id=return_id, quantity=quantity, reason=reason)
        self._note_level()

    @event("StockRestocked")
    def _restocked(self, return_id: UUID, quantity: int, reason: str | None = None) -> None:
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

    def ship_released(self, reservation_id: UUID, quantity: int) -> None:
        """Units of a released reservation left anyway (``ReleasedStockShipped``): the
        order was cancelled and its units freed, then the warehouse shipped the parcel
        before it read the cancellation. On hand drops; the units must still be free,
        else InsufficientStock (sold again meanwhile: an operator recounts). Once per
        reservation; a reservation still open is committed instead.
        """
        InvalidQuantity.check(quantity)
        if self.closed_as(reservation_id) == "committed":
            return
        if reservation_id in self.reservations:
            self.commit(reservation_id)
            return
        if self.closed_as(reservation_id) != "released":
            raise UnknownReservation(reservation_id=reservation_id)
        self.check_available(quantity)
        self._released_shipped(reservation_id=reservation_id, quantity=quantity)
        self._note_level()

    @event("ReleasedStockShipped")
    def _released_shipped(self, reservation_id: UUID, quantity: int) -> None:
        self.on_hand -= quantity
        self._settle(reservation_id, "committed")

    # --- transfers between locations ----------------------------------------------

    def dispatch_transfer(
        self, transfer_id: UUID, to_location: str, quantity: int, actor: str = "", note: str = ""
    ) -> None:
        """Send units to another location (``TransferDispatched``): they leave on hand.

        Only available units leave (reserved ones are promised here); a transfer id
        is dispatched once.
        """
        InvalidQuantity.check(quantity)
        if not to_location.strip() or to_location == self.location:
            raise InvalidTransfer(
                sku=self.sku, detail=f"destination {to_location!r} must be another location"
            )
        if transfer_id in self.transfers_done:
            raise TransferConflict(transfer_id=transfer_id, status=self.transfers_done[transfer_id])
        self.check_available(quantity)
        self._transfer_dispatched(
            transfer_id=transfer_id,
            to_location=to_location,
            quantity=quantity,
            actor=actor,
            note=note,
        )
        self._note_level()

    @event("TransferDispatched")
    def _transfer_dispatched(
        self, transfer_id: UUID, to_location: str, quantity: int, actor: str, note: str
    ) -> None:
        self.on_hand -= quantity
        self.transfers_done[transfer_id] = "dispatched"

    def expect_transfer(
        self, transfer_id: UUID, from_location: str, quantity: int, actor: str = ""
    ) -> None:
        """Units dispatched to here are on their way (``TransferExpected``).

        Expecting a transfer already known does nothing: the source's follow-up
        command may arrive twice.
        """
        InvalidQuantity.check(quantity)
        if transfer_id in self.in_transit or transfer_id in self.transfers_done:
            return
        self._transfer_expected(
            transfer_id=transfer_id, from_location=from_location, quantity=quantity, actor=actor
        )

    @event("TransferExpected")
    def _transfer_expected(
        self, transfer_id: UUID, from_location: str, quantity: int, actor: str
    ) -> None:
        self.in_transit[transfer_id] = (from_location, quantity)
        self.in_transit_units += quantity

    def receive_transfer(self, transfer_id: UUID, actor: str = "") -> None:
        """The transfer arrived (``TransferReceived``): in transit becomes on hand."""
        if transfer_id in self.transfers_done:
            raise TransferConflict(transfer_id=transfer_id, status=self.transfers_done[transfer_id])
        if transfer_id not in self.in_transit:
            raise UnknownTransfer(transfer_id=transfer_id, location=self.location)
        from_location, quantity = self.in_transit[transfer_id]
        self._transfer_received(
            transfer_id=transfer_id, from_location=from_location, quantity=quantity, actor=actor
        )
        self._note_level()

    @event("TransferReceived")
    def _transfer_received(
        self, transfer_id: UUID, from_location: str, quantity: int, actor: str
    ) -> None:
        del self.in_transit[transfer_id]
        self.in_transit_units -= quantity
        self.on_hand += quantity
        self.transfers_done[transfer_id] = "received"

    # --- low stock ----------------------------------------------------------------

    def set_threshold(self, threshold: int, actor: str = "") -> None:
        """Set the low-stock threshold (``ThresholdSet``); available below it is low.

        Setting the same value again is recorded too: an operator confirming a
        threshold is a fact with an actor, and the sender always hears back.
        """
        self._check_threshold(threshold)
        self._threshold_set(threshold=threshold, actor=actor)
        self._note_level()

    @event("ThresholdSet")
    def _threshold_set(self, threshold: int, actor: str = "") -> None:
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
