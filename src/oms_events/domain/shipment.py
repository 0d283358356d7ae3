"""The Shipment aggregate: the lines of one order leaving one location, to the customer's door.

Warehouses report picked / packed / shipped; carriers report in transit, out for
delivery, delivered, failed and returned. Carrier feeds repeat themselves and arrive
out of order, so :meth:`Shipment.record_scan` takes each scan at most once (by status
and time), ignores a non-final scan older than the newest one applied, and ignores
every scan once the parcel is delivered or returned: the end of a parcel's journey is
not undone by a late scan of its middle.

Cancelling (the order was cancelled)::

    created | picked | packed ─> cancelled (the warehouse is told)
        └─ shipped anyway (the warehouse's confirmation came late) ─> shipped, and
           the carrier is asked to intercept: the goods did leave, the count says so
    on the road ─> InterceptionRequested (拦截)
        ├─ returned (the carrier brings it back) ─> ParcelReceivedBack at the warehouse
        └─ delivered (too late)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from oms_events.domain.errors import (
    InvalidCarrier,
    InvalidOrder,
    InvalidQuantity,
    InvalidTransition,
    ReasonRequired,
    WaybillConflict,
)
from oms_events.domain.ids import natural_id


class ShipmentStatus(StrEnum):
    """Where a shipment is."""

    CREATED = "created"
    PICKED = "picked"
    PACKED = "packed"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    RETURNED = "returned"
    CANCELLED = "cancelled"


_ON_THE_ROAD = (
    ShipmentStatus.SHIPPED,
    ShipmentStatus.IN_TRANSIT,
    ShipmentStatus.OUT_FOR_DELIVERY,
    ShipmentStatus.DELIVERY_FAILED,
)
# The journey is over: later scans of the parcel change nothing.
FINAL = (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED)


@dataclass(frozen=True, slots=True)
class ShipmentLine:
    """An order line (or the part of it) in this shipment, with the reservation it consumes."""

    line_no: int
    sku: str
    quantity: int
    reservation_id: UUID
    order_id: UUID | None = None  # a merged parcel's (合单) line names its order

    def __post_init__(self) -> None:
        InvalidQuantity.check(self.quantity)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShipmentLine:
        """Build from the event form."""
        return cls(
            data["line_no"],
            data["sku"],
            data["quantity"],
            data["reservation_id"],
            data.get("order_id"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The event form."""
        return {
            "line_no": self.line_no,
            "sku": self.sku,
            "quantity": self.quantity,
            "reservation_id": self.reservation_id,
            "order_id": self.order_id,
        }


class Shipment(Aggregate):
    """One parcel (or consignment) of an order from one location."""

    # Carrier scan details; class defaults so shipments snapshotted before scans were
    # recorded restore with them unset.
    last_scan_at: datetime | None = None
    last_location: str | None = None
    eta: datetime | None = None
    signer: str | None = None
    delivered_at: datetime | None = None
    scans: frozenset[str] = frozenset()  # "status@occurred_at" of every scan applied

    @staticmethod
    def create_id(order_id: UUID, location: str) -> UUID:
        """The shipment id: one shipment per order and location."""
        return natural_id("shipment", order_id, location)

    @classmethod
    def create(
        cls,
        order_id: UUID,
        location: str,
        lines: Sequence[ShipmentLine],
        parcel_price: int | None = None,
        drop_ship: bool = False,
        shipment_id: UUID | None = None,
    ) -> Shipment:
        """Open a shipment for an allocation (``ShipmentCreated``); ``parcel_price``: what
        its lines cost when the order ships in several parcels (None: the whole order);
        ``drop_ship``: a supplier ships it (代发), not one of our warehouses.
        ``shipment_id``: a parcel with an id of its own (a merge group's, a backorder's),
        else the order's own at the location; in a merge group's, ``order_id`` is the
        lead order and each line of another order names it."""
        if not location.strip():
            raise InvalidOrder(detail="shipment location is empty")
        if not lines:
            raise InvalidOrder(detail="a shipment needs at least one line")
        data = [ln.to_dict() for ln in lines]
        if shipment_id is not None:
            return cls._create(
                cls.ShipmentCreated,  # type: ignore[attr-defined]
                id=shipment_id,
                order_id=order_id,
                location=location,
                lines=data,
                parcel_price=parcel_price,
                drop_ship=drop_ship,
            )
        return cls(
            order_id=order_id,
            location=location,
            lines=data,
            parcel_price=parcel_price,
            drop_ship=drop_ship,
        )

    @event("ShipmentCreated")
    def __init__(
        self,
        order_id: UUID,
        location: str,
        lines: list[dict[str, Any]],
        parcel_price: int | None = None,
        drop_ship: bool = False,
    ) -> None:
        self.order_id = order_id
        self.parcel_price = parcel_price
        self.drop_ship = drop_ship
        self.location = location
        self.lines = [ShipmentLine.from_dict(d) for d in lines]
        self.status = ShipmentStatus.CREATED
        self.carrier: str | None = None
        self.tracking_no: str | None = None
        self.failures: list[str] = []
        self.close_reason: str | None = None

    # Set by later events; class defaults so that older snapshots restore.
    parcel_price: int | None = None  # set at creation since ShipmentCreated carried it
    drop_ship: bool = False  # likewise
    intercepting: str | None = None  # why the carrier was asked to intercept (拦截)
    received_back = False  # the returned parcel is back at the warehouse

    def lines_by_order(self) -> dict[UUID, list[ShipmentLine]]:
        """The parcel's lines by the order they belong to (several in a merged parcel)."""
        found: dict[UUID, list[ShipmentLine]] = {}
        for line in self.lines:
            found.setdefault(line.order_id or self.order_id, []).append(line)
        return found

    def withdraw_order(self, order_id: UUID, reason: str) -> bool:
        """Take a cancelled order's lines out of a merged parcel before it leaves
        (``ShipmentOrderWithdrawn``); the other orders' lines ship. False when the
        parcel holds none of its lines (taken out before)."""
        self._check_reason(reason)
        taken = self.lines_by_order().get(order_id, [])
        mine = [ln.line_no for ln in taken]
        if not mine:
            return False
        self.check_status(
            "withdraw an order from",
            ShipmentStatus.CREATED,
            ShipmentStatus.PICKED,
            ShipmentStatus.PACKED,
        )
        units = sum(ln.quantity for ln in taken)
        self._order_withdrawn(order_id=order_id, reason=reason, line_nos=mine, units=units)
        return True

    @event("ShipmentOrderWithdrawn")
    def _order_withdrawn(
        self, order_id: UUID, reason: str, line_nos: list[int], units: int
    ) -> None:
        self.lines = [ln for ln in self.lines if (ln.order_id or self.order_id) != order_id]

    @property
    def on_the_road(self) -> bool:
        """True while the parcel is with the carrier, not yet delivered or returned."""
        return self.status in _ON_THE_ROAD

    def check_status(self, action: str, *allowed: ShipmentStatus) -> None:
        """Raise InvalidTransition unless the shipment is in one of ``allowed``."""
        if self.status not in allowed:
            raise InvalidTransition(entity="shipment", action=action, status=self.status.value)

    @staticmethod
    def _check_reason(reason: str) -> None:
        if not reason or not reason.strip():
            raise ReasonRequired()

    # --- warehouse ------------------------------------------------------------------

    def pick(self) -> None:
        """The warehouse picked the goods (``ShipmentPicked``)."""
        if self.status is ShipmentStatus.PICKED:
            return
        self.check_status("pick", ShipmentStatus.CREATED)
        self._picked()

    @event("ShipmentPicked")
    def _picked(self) -> None:
        self.status = ShipmentStatus.PICKED

    def pack(self) -> None:
        """The warehouse packed the parcel (``ShipmentPacked``)."""
        if self.status is ShipmentStatus.PACKED:
            return
        self.check_status("pack", ShipmentStatus.PICKED)
        self._packed()

    @event("ShipmentPacked")
    def _packed(self) -> None:
        self.status = ShipmentStatus.PACKED

    def assign_waybill(self, carrier: str, tracking_no: str, wave: str) -> None:
        """The e-waybill (电子面单) the label will carry, taken when the pick wave is made
        (``WaybillAssigned``). The same waybill again changes nothing; a different one is
        refused, since its label may already be on the parcel."""
        if not carrier.strip() or not tracking_no.strip():
            raise InvalidCarrier()
        if self.tracking_no is not None:
            if (carrier, tracking_no) == (self.carrier, self.tracking_no):
                return
            raise WaybillConflict(
                carrier=self.carrier, tracking_no=self.tracking_no, other=tracking_no
            )
        self.check_status(
            "assign a waybill to",
            ShipmentStatus.CREATED,
            ShipmentStatus.PICKED,
            ShipmentStatus.PACKED,
        )
        self._waybill_assigned(carrier=carrier, tracking_no=tracking_no, wave=wave)

    @event("WaybillAssigned")
    def _waybill_assigned(self, carrier: str, tracking_no: str, wave: str) -> None:
        self.carrier = carrier
        self.tracking_no = tracking_no  # the wave is the warehouse's business, not kept here

    def ship(self, carrier: str, tracking_no: str) -> None:
        """Handed to ``carrier`` under ``tracking_no`` (``ShipmentShipped``)."""
        if not carrier.strip() or not tracking_no.strip():
            raise InvalidCarrier()
        if self.status is ShipmentStatus.SHIPPED and (carrier, tracking_no) == (
            self.carrier,
            self.tracking_no,
        ):
            return
        if self.status is ShipmentStatus.CANCELLED:
            # The warehouse shipped before it read the cancellation: the goods left.
            # Recorded as shipped (the stock must drop, the carrier adapter must know
            # the waybill) and intercepted at once.
            reason = self.close_reason or "order cancelled"
            self._shipped(carrier=carrier, tracking_no=tracking_no)
            self._interception_requested(reason=reason)
            return
        self.check_status("ship", ShipmentStatus.PACKED)
        self._shipped(carrier=carrier, tracking_no=tracking_no)

    @event("ShipmentShipped")
    def _shipped(self, carrier: str, tracking_no: str) -> None:
        self.carrier = carrier
        self.tracking_no = tracking_no
        self.status = ShipmentStatus.SHIPPED

    def cancel(self, reason: str) -> None:
        """Stop the shipment before it leaves (``ShipmentCancelled``)."""
        self.check_status(
            "cancel", ShipmentStatus.CREATED, ShipmentStatus.PICKED, ShipmentStatus.PACKED
        )
        self._check_reason(reason)
        self._cancelled(reason=reason)

    @event("ShipmentCancelled")
    def _cancelled(self, reason: str) -> None:
        self.status = ShipmentStatus.CANCELLED
        self.close_reason = reason

    def intercept(self, reason: str) -> None:
        """Ask the carrier to stop the parcel and bring it back (``InterceptionRequested``);
        asking again changes nothing."""
        self._check_reason(reason)
        if self.intercepting is not None:
            return
        self.check_status("intercept", *_ON_THE_ROAD)
        self._interception_requested(reason=reason)

    @event("InterceptionRequested")
    def _interception_requested(self, reason: str) -> None:
        self.intercepting = reason

    def receive_back(self) -> bool:
        """The returned parcel is back at the warehouse (``ParcelReceivedBack``): its units
        go back on hand. Returns False when it was received already."""
        if self.received_back:
            return False
        self.check_status("receive back", ShipmentStatus.RETURNED)
        self._parcel_received_back()
        return True

    @event("ParcelReceivedBack")
    def _parcel_received_back(self) -> None:
        self.received_back = True

    # --- carrier --------------------------------------------------------------------

    def record_scan(
        self,
        status: str,
        occurred_at: datetime,
        *,
        location: str | None = None,
        reason: str | None = None,
        eta: datetime | None = None,
        signer: str | None = None,
    ) -> bool:
        """Apply one carrier scan (a status of ``oms_events.carriers.scan.STATUSES``) by
        the feed's rules (see the module doc); True when it recorded an event.

        Raises InvalidTransition for a scan of a parcel not handed to a carrier yet.
        """
        if self.status in FINAL or _scan_key(status, occurred_at) in self.scans:
            return False
        self.check_status("scan", *_ON_THE_ROAD)
        final = status in ("delivered", "returned_to_sender")
        if not final and self.last_scan_at is not None and occurred_at < self.last_scan_at:
            return False  # stale: the parcel has moved on since
        at, where = occurred_at, location
        if status == "in_transit":
            self.record_in_transit(location or "", occurred_at=at, location=where, eta=eta)
        elif status == "out_for_delivery":
            self.record_out_for_delivery(occurred_at=at, location=where, eta=eta)
        elif status == "delivered":
            self.deliver(occurred_at=at, location=where, signer=signer)
        elif status == "delivery_failed":
            self.fail_delivery(reason or "delivery failed", occurred_at=at, location=where)
        elif status == "returned_to_sender":
            self.return_to_sender(reason or "returned to sender", occurred_at=at, location=where)
        else:
            raise InvalidTransition(entity="shipment", action=status, status=self.status.value)
        return True

    def _scanned(self, status: str, occurred_at: datetime | None, location: str | None) -> None:
        # What every carrier event records of its scan (absent in earlier events).
        if occurred_at is None:
            return
        self.scans = self.scans | {_scan_key(status, occurred_at)}
        if self.last_scan_at is None or occurred_at >= self.last_scan_at:
            self.last_scan_at = occurred_at
            self.last_location = location or self.last_location

    def record_in_transit(
        self,
        note: str = "",
        *,
        occurred_at: datetime | None = None,
        location: str | None = None,
        eta: datetime | None = None,
    ) -> None:
        """A tracking scan on the way (``ShipmentInTransit``); also after a failed attempt.
        Without a scan time, a repeat of the status changes nothing."""
        if self.status is ShipmentStatus.IN_TRANSIT and occurred_at is None:
            return
        self.check_status("move", *_ON_THE_ROAD)
        self._in_transit(note=note, occurred_at=occurred_at, location=location, eta=eta)

    @event("ShipmentInTransit")
    def _in_transit(
        self,
        note: str,
        occurred_at: datetime | None = None,
        location: str | None = None,
        eta: datetime | None = None,
    ) -> None:
        self.status = ShipmentStatus.IN_TRANSIT
        self.eta = eta or self.eta
        self._scanned("in_transit", occurred_at, location)

    def record_out_for_delivery(
        self,
        *,
        occurred_at: datetime,
        location: str | None = None,
        eta: datetime | None = None,
    ) -> None:
        """A courier has the parcel for delivery today (``ShipmentOutForDelivery``)."""
        self.check_status("dispatch", *_ON_THE_ROAD)
        self._out_for_delivery(occurred_at=occurred_at, location=location, eta=eta)

    @event("ShipmentOutForDelivery")
    def _out_for_delivery(
        self, occurred_at: datetime, location: str | None, eta: datetime | None
    ) -> None:
        self.status = ShipmentStatus.OUT_FOR_DELIVERY
        self.eta = eta or self.eta
        self._scanned("out_for_delivery", occurred_at, location)

    def deliver(
        self,
        *,
        occurred_at: datetime | None = None,
        location: str | None = None,
        signer: str | None = None,
    ) -> None:
        """The carrier delivered (``ShipmentDelivered``)."""
        if self.status is ShipmentStatus.DELIVERED:
            return
        self.check_status("deliver", *_ON_THE_ROAD)
        self._delivered(occurred_at=occurred_at, location=location, signer=signer)

    @event("ShipmentDelivered")
    def _delivered(
        self,
        occurred_at: datetime | None = None,
        location: str | None = None,
        signer: str | None = None,
    ) -> None:
        self.status = ShipmentStatus.DELIVERED
        self.signer = signer
        self.delivered_at = occurred_at
        self._scanned("delivered", occurred_at, location)

    def fail_delivery(
        self,
        reason: str,
        *,
        occurred_at: datetime | None = None,
        location: str | None = None,
    ) -> None:
        """A delivery attempt failed (``DeliveryFailed``); the carrier may try again."""
        self.check_status(
            "fail",
            ShipmentStatus.SHIPPED,
            ShipmentStatus.IN_TRANSIT,
            ShipmentStatus.OUT_FOR_DELIVERY,
            ShipmentStatus.DELIVERY_FAILED,
        )
        self._check_reason(reason)
        self._delivery_failed(reason=reason, occurred_at=occurred_at, location=location)

    @event("DeliveryFailed")
    def _delivery_failed(
        self, reason: str, occurred_at: datetime | None = None, location: str | None = None
    ) -> None:
        self.failures.append(reason)
        self.status = ShipmentStatus.DELIVERY_FAILED
        self._scanned("delivery_failed", occurred_at, location)

    def return_to_sender(
        self,
        reason: str,
        *,
        occurred_at: datetime | None = None,
        location: str | None = None,
    ) -> None:
        """The carrier brings the parcel back (``ShipmentReturned``)."""
        if self.status is ShipmentStatus.RETURNED:
            return
        self.check_status("return", *_ON_THE_ROAD)
        self._check_reason(reason)
        self._returned(reason=reason, occurred_at=occurred_at, location=location)

    @event("ShipmentReturned")
    def _returned(
        self, reason: str, occurred_at: datetime | None = None, location: str | None = None
    ) -> None:
        self.status = ShipmentStatus.RETURNED
        self.close_reason = reason
        self._scanned("returned_to_sender", occurred_at, location)


def _scan_key(status: str, occurred_at: datetime) -> str:
    return f"{status}@{occurred_at.astimezone(UTC).isoformat()}"
