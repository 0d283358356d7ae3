"""Cancelling a shipment: the warehouse is told, or the carrier is asked to intercept.

What the shipment processor does when an order is cancelled after allocation
(a CancelShipment from the order saga), by where the parcel is:

* created / picked / packed: ``ShipmentCancelled``, and an ``AllocationCancelled``
  record (``schemas/allocation/AllocationCancelled.avsc``) on ``oms.allocations``
  (a drop-ship supplier's: ``PurchaseOrderCancelled`` on ``oms.dropship``),
  keyed by location like the Allocation it cancels: the warehouse must not ship it.
  The order released the reservations already.
* shipped / in transit / delivery failed: ``InterceptionRequested`` and an
  interception request to the carrier (below).
* delivered already: the order hears at once that interception failed.

A warehouse that shipped before it read the cancellation confirms "shipped" as
usual. The goods did leave, so the shipment records it (the carrier adapter learns
the waybill from ``ShipmentShipped``), CommitLines takes the units off hand (the
inventory takes them from its free stock, the reservation being released:
``ReleasedStockShipped``), and the carrier is asked to intercept. Refusing the
confirmation would leave on hand counting units that are on a truck; this is what
聚水潭 and 旺店通 do too: a shipped order that is cancelled is intercepted (物流拦截)
or becomes an after-sale case, never un-shipped.

The interception request, on ``oms.carrier.requests`` (``topics.CARRIER_REQUESTS``)
keyed by tracking number, Avro ``oms.carrier.InterceptionRequest``
(``schemas/carrier/InterceptionRequest.avsc``)::

    {"request_id": "<shipment id>/intercept", "kind": "intercept",
     "carrier": "SF", "tracking_no": "SF1234567890123",
     "shipment_id": "<uuid>", "order_id": "<uuid>", "location": "SH",
     "reason": "customer changed their mind", "requested_at": <timestamp-millis>}

The carrier answers through its ordinary tracking updates (``RecordCarrierUpdate``
on the shipment, applied by the shipment service's scan rules, which then call
:func:`scanned`): ``returned_to_sender`` = intercepted (``ShipmentReturned``, and the
order is cancelled and refunded), ``delivered`` = too late (``ShipmentDelivered``,
and the order records ``InterceptionFailed``: the cancellation is refused, visibly;
the order is delivered by the DeliverShipment every delivered scan sends).
When the returned parcel is back, the warehouse sends ``oms.warehouse.ParcelReturned``
(``schemas/warehouse/ParcelReturned.avsc``) on ``oms.warehouse.updates``; the shipment
records ``ParcelReceivedBack`` and RestockLines puts the units back on hand
(``StockRestocked``), once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from oms_events import topics
from oms_events.domain.shipment import Shipment, ShipmentStatus
from oms_events.engine.commands import (
    LineToRestock,
    RecordCarrierUpdate,
    RecordInterception,
    RestockLines,
)
from oms_events.engine.outbox import Outbox
from oms_events.engine.records import Outgoing, by_item_partition
from oms_events.fulfilment.dropship import PURCHASE_ORDER_CANCELLED, purchase_order_cancelled

ALLOCATION_CANCELLED = "oms.allocation.AllocationCancelled"
INTERCEPTION_REQUEST = "oms.carrier.InterceptionRequest"
_BEFORE_LEAVING = (ShipmentStatus.CREATED, ShipmentStatus.PICKED, ShipmentStatus.PACKED)


def cancel(shipment: Shipment, reason: str, out: Outbox, cause: str) -> None:
    """Stop the shipment wherever it is (see the module doc)."""
    if shipment.status in _BEFORE_LEAVING:
        shipment.cancel(reason)
        tell_warehouse(shipment, reason, out)
    elif shipment.on_the_road:
        if shipment.intercepting is None:
            shipment.intercept(reason)
            request_interception(shipment, out)
    elif shipment.status is ShipmentStatus.DELIVERED:
        _outcome(shipment, "delivered", "delivered before the cancellation", out, cause)
    elif shipment.status is ShipmentStatus.RETURNED:
        _outcome(shipment, "intercepted", "returned to sender", out, cause)
    # cancelled already: nothing more to do


def tell_warehouse(shipment: Shipment, reason: str, out: Outbox) -> None:
    """Queue the AllocationCancelled record for the shipment's warehouse (for a drop-ship
    supplier, the PurchaseOrderCancelled on the topic its purchase order went to)."""
    now = datetime.now(UTC)
    if shipment.drop_ship:
        topic = topics.name(out.settings, topics.DROPSHIP)
        record = purchase_order_cancelled(
            shipment.id, shipment.location, shipment.order_id, reason, now
        )
        value = out.codec.encode(PURCHASE_ORDER_CANCELLED, record, topic=topic)
    else:
        topic = topics.name(out.settings, topics.ALLOCATIONS)
        record = {
            "allocation_id": str(shipment.id),
            "shipment_id": str(shipment.id),
            "order_id": str(shipment.order_id),
            "location": shipment.location,
            "reason": reason,
            "cancelled_at": now,
        }
        value = out.codec.encode(ALLOCATION_CANCELLED, record, topic=topic)
    headers = [("order_id", str(shipment.order_id).encode())]
    out.add(Outgoing(topic, shipment.location.encode(), value, headers))


def request_interception(shipment: Shipment, out: Outbox) -> None:
    """Queue the interception request for the shipment's carrier."""
    assert shipment.carrier and shipment.tracking_no and shipment.intercepting
    topic = topics.name(out.settings, topics.CARRIER_REQUESTS)
    record = {
        "request_id": f"{shipment.id}/intercept",
        "kind": "intercept",
        "carrier": shipment.carrier,
        "tracking_no": shipment.tracking_no,
        "shipment_id": str(shipment.id),
        "order_id": str(shipment.order_id),
        "location": shipment.location,
        "reason": shipment.intercepting,
        "requested_at": datetime.now(UTC),
    }
    out.add(
        Outgoing(
            topic,
            shipment.tracking_no.encode(),
            out.codec.encode(INTERCEPTION_REQUEST, record, topic=topic),
            [("shipment_id", str(shipment.id).encode())],
        )
    )


def scanned(shipment: Shipment, command: RecordCarrierUpdate, out: Outbox) -> None:
    """After a carrier's scan was recorded: an intercepted parcel that came to the end
    of its journey (returned to sender, or delivered first) is the interception's
    outcome, for the order."""
    if shipment.intercepting is None:
        return
    if shipment.status is ShipmentStatus.RETURNED:
        _outcome(shipment, "intercepted", command.reason or "", out, command.command_id)
    elif shipment.status is ShipmentStatus.DELIVERED:
        # Not the signer's name: this reason goes into the order's events, which hold
        # personal data only in the fields the schemas seal.
        reason = command.reason or ("signed for" if command.signer else "")
        _outcome(shipment, "delivered", reason or "delivered", out, command.command_id)


def parcel_returned(shipment: Shipment, out: Outbox, cause: str) -> bool:
    """The returned parcel is back at the warehouse: its units go back on hand, once
    (True then; False when it was received back already)."""
    if not shipment.receive_back():
        return False
    lines = [
        LineToRestock(sku=line.sku, location=shipment.location, quantity=line.quantity)
        for line in shipment.lines
    ]
    partitions = out.settings.kafka.partitions
    for number, group in by_item_partition(lines, lambda line: line.item, partitions):
        out.command(
            RestockLines(
                command_id=f"{cause}/restock/{number}",
                restock_id=shipment.id,
                lines=tuple(group),
                reason="returned parcel received",
            )
        )
    return True


def _outcome(shipment: Shipment, outcome: str, reason: str, out: Outbox, cause: str) -> None:
    out.command(
        RecordInterception(
            command_id=f"{cause}/interception",
            order_id=shipment.order_id,
            shipment_id=shipment.id,
            outcome="intercepted" if outcome == "intercepted" else "delivered",
            reason=reason,
        )
    )
