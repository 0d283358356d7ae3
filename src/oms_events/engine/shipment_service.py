"""The shipment service: one Shipment per order and location, moved by its warehouse.

Consumes ``oms.shipment.commands`` keyed by shipment id:

* CreateShipment (from allocation) -> ShipmentCreated
* AssignWaybill (from ``oms docs pick``) -> WaybillAssigned (engine/waybill_assignment.py)
* RecordWarehouseUpdate (from the warehouse adapter) -> ShipmentPicked / Packed /
  Shipped; on shipped, CommitLines per inventory partition (the goods have left)
  and ShipLines to the order; shipped after the order was cancelled -> the carrier
  is asked to intercept instead of telling the order (see ``interception``)
* CancelShipment (from the order saga) -> ShipmentCancelled and the warehouse told,
  or InterceptionRequested and the carrier asked (``interception``)
* RecordCarrierUpdate (from the carrier adapter) -> ShipmentInTransit /
  ShipmentOutForDelivery / ShipmentDelivered / DeliveryFailed / ShipmentReturned, by the
  feed rules of ``Shipment.record_scan`` (a repeated or stale scan records nothing);
  an intercepted parcel returned or delivered -> RecordInterception to the order
  (``interception``); on delivered, DeliverShipment to the order, with any cash
  collected at the door; returned to sender when we did not intercept it (拒收 refused,
  undeliverable) -> RecordShipmentReturned to the order
* RecordParcelReturned (the warehouse has the parcel back) -> ParcelReceivedBack and
  RestockLines per inventory partition; a parcel not intercepted -> RecordShipmentReturned
  (received back) to the order, which may settle now
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from oms_events.carriers.scan import carrier_code
from oms_events.domain.shipment import Shipment, ShipmentLine, ShipmentStatus
from oms_events.engine import interception
from oms_events.engine.commands import (
    AssignWaybill,
    CancelShipment,
    CollectedCash,
    CommitLines,
    CreateShipment,
    DeliverShipment,
    LineToCommit,
    RecordCarrierUpdate,
    RecordParcelReturned,
    RecordShipmentReturned,
    RecordWarehouseUpdate,
    ShipLines,
    WithdrawShipment,
)
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.records import by_item_partition
from oms_events.engine.service import Service
from oms_events.engine.shipment_withdrawal import withdraw_shipment
from oms_events.engine.waybill_assignment import assign_waybill

# A parcel still at its warehouse: a merged order's lines can be taken out of it.
_BEFORE_LEAVING = (ShipmentStatus.CREATED, ShipmentStatus.PICKED, ShipmentStatus.PACKED)


class ShipmentService(Service):
    """Handlers of shipment commands."""

    name = "shipment"
    aggregate_type = "shipment"

    def __init__(self) -> None:
        self.handlers = {
            CreateShipment: self.create,
            RecordWarehouseUpdate: self.record_update,
            CancelShipment: self.cancel,
            RecordCarrierUpdate: record_carrier_update,
            RecordParcelReturned: self.parcel_returned,
            AssignWaybill: assign_waybill,
            WithdrawShipment: withdraw_shipment,
        }

    def create(self, command: CreateShipment, partition: Partition, out: Outbox) -> None:
        """Open the shipment of an allocation (once)."""
        if partition.get(command.shipment_id) is not None:
            return
        lines = [
            ShipmentLine(line.line_no, line.sku, line.quantity, line.reservation_id, line.order_id)
            for line in command.lines
        ]
        shipment = Shipment.create(
            command.order_id,
            command.location,
            lines,
            command.parcel_price,
            command.drop_ship,
            # A merge group's parcel or a backorder's has an id of its own (allocation).
            shipment_id=command.shipment_id if command.parcel else None,
        )
        if shipment.id != command.shipment_id:
            raise ValueError(f"shipment id {command.key} is not that of its order+location")
        out.events("shipment", partition, shipment, command.command_id)

    def record_update(
        self, command: RecordWarehouseUpdate, partition: Partition, out: Outbox
    ) -> None:
        """Apply a warehouse's confirmation; once shipped, commit the stock and tell the
        order."""
        shipment: Shipment | None = partition.get(command.shipment_id)
        if shipment is None:
            raise ValueError(f"shipment {command.key} does not exist")
        was_shipped = shipment.status is ShipmentStatus.SHIPPED
        was_cancelled = shipment.status is ShipmentStatus.CANCELLED
        if command.status == "picked":
            shipment.pick()
        elif command.status == "packed":
            shipment.pack()
        else:
            shipment.ship(command.carrier or "", command.tracking_no or "")
            if was_cancelled:
                # Shipped after the order was cancelled: the stock drops, the carrier
                # is asked to bring it back; the cancelled order is not told it shipped.
                _commit(shipment, out, command.command_id)
                interception.request_interception(shipment, out)
            elif not was_shipped:
                _shipped(shipment, out, command.command_id)
        out.events("shipment", partition, shipment, command.command_id)

    def cancel(self, command: CancelShipment, partition: Partition, out: Outbox) -> None:
        """The order was cancelled: stop the shipment or have it intercepted. In a merged
        parcel (合单) of several orders, only that order's lines are taken out (before
        the parcel leaves); the others ship."""
        if command.order_id is not None:
            parcel: Shipment | None = partition.get(command.shipment_id)
            if parcel is None:
                return  # the group's parcel was never made: the order left the group first
            others = set(parcel.lines_by_order()) - {command.order_id}
            if others and parcel.status in _BEFORE_LEAVING:
                if parcel.withdraw_order(command.order_id, command.reason):
                    out.events("shipment", partition, parcel, command.command_id)
                return
        shipment = _shipment(partition, command)
        interception.cancel(shipment, command.reason, out, command.command_id)
        out.events("shipment", partition, shipment, command.command_id)

    def parcel_returned(
        self, command: RecordParcelReturned, partition: Partition, out: Outbox
    ) -> None:
        """The returned parcel is back at the warehouse: restock its units."""
        shipment = _shipment(partition, command)
        if shipment.on_the_road and shipment.carrier and shipment.tracking_no:
            # The warehouse holds the parcel before the carrier's return scan reached us
            # (its feed down, our adapter stalled): a parcel back home was returned. Take
            # this as that scan, with everything it sets off; the late push is then a
            # scan of a finished journey and changes nothing.
            record_carrier_update(
                RecordCarrierUpdate(
                    command_id=f"{command.command_id}/returned",
                    shipment_id=shipment.id,
                    carrier=shipment.carrier,
                    tracking_no=shipment.tracking_no,
                    status="returned_to_sender",
                    occurred_at=command.received_at or datetime.now(UTC),
                    reason="back at the warehouse before the carrier's return scan",
                ),
                partition,
                out,
            )
        back = interception.parcel_returned(shipment, out, command.command_id)
        if back:
            # The order settles once it has its goods back: refused or undeliverable, or
            # intercepted for a cancellation the order had to refuse since (another
            # parcel was delivered first). An order the interceptions cancelled ignores it.
            at = command.received_at or datetime.now(UTC)
            _tell_returned(shipment, out, f"{command.command_id}/back", at, received_back=True)
        out.events("shipment", partition, shipment, command.command_id)


def _shipment(
    partition: Partition, command: CancelShipment | RecordCarrierUpdate | RecordParcelReturned
) -> Shipment:
    shipment: Shipment | None = partition.get(command.shipment_id)
    if shipment is None:
        raise ValueError(f"shipment {command.key} does not exist")
    return shipment


def _suffix(shipment: Shipment, order_id: UUID) -> str:
    # Command ids per order of a merged parcel; the usual ids for an order's own parcel.
    return "" if order_id == shipment.order_id else f"/{order_id}"


def _tell_returned(
    shipment: Shipment, out: Outbox, command_id: str, at: datetime, *, received_back: bool
) -> None:
    for order_id in shipment.lines_by_order():
        out.command(
            RecordShipmentReturned(
                command_id=command_id + _suffix(shipment, order_id),
                order_id=order_id,
                shipment_id=shipment.id,
                occurred_at=at,
                reason=shipment.close_reason or "",
                received_back=received_back,
            )
        )


def _shipped(shipment: Shipment, out: Outbox, cause: str) -> None:
    _commit(shipment, out, cause)
    for order_id, lines in shipment.lines_by_order().items():
        out.command(
            ShipLines(
                command_id=f"{cause}/ship{_suffix(shipment, order_id)}",
                order_id=order_id,
                shipment_id=shipment.id,
                line_nos=tuple(line.line_no for line in lines),
            )
        )


def _commit(shipment: Shipment, out: Outbox, cause: str) -> None:
    # One CommitLines per order and inventory partition the shipment's items live on
    # (the stock ledger traces each unit to its order).
    partitions = out.settings.kafka.partitions
    for order_id, shipped in shipment.lines_by_order().items():
        commits = [
            LineToCommit(
                reservation_id=line.reservation_id,
                sku=line.sku,
                location=shipment.location,
                quantity=line.quantity,
            )
            for line in shipped
        ]
        for number, lines in by_item_partition(commits, lambda commit: commit.item, partitions):
            out.command(
                CommitLines(
                    command_id=f"{cause}/commit/{number}{_suffix(shipment, order_id)}",
                    order_id=order_id,
                    lines=tuple(lines),
                )
            )


def record_carrier_update(command: RecordCarrierUpdate, partition: Partition, out: Outbox) -> None:
    """Apply a carrier's scan; the first delivered scan tells the order (and passes on
    cash collected at the door), and so does a returned one we did not ask for."""
    shipment: Shipment | None = partition.get(command.shipment_id)
    if shipment is None:
        raise ValueError(f"shipment {command.key} does not exist")
    known = (carrier_code(shipment.carrier or ""), shipment.tracking_no)
    if (carrier_code(command.carrier), command.tracking_no) != known:
        raise ValueError(
            f"waybill {command.carrier} {command.tracking_no} is not shipment {command.key}'s"
            f" ({shipment.carrier} {shipment.tracking_no})"
        )
    recorded = shipment.record_scan(
        command.status,
        command.occurred_at,
        location=command.location,
        reason=command.reason,
        eta=command.eta,
        signer=command.signer,
    )
    if recorded:
        # Before DeliverShipment: the order hears why a cancellation failed first.
        interception.scanned(shipment, command, out)
    if recorded and shipment.status is ShipmentStatus.RETURNED and shipment.intercepting is None:
        # Not our interception: refused at the door, or undeliverable. The order learns
        # it now and settles once the warehouse has the parcel back.
        _tell_returned(
            shipment,
            out,
            f"{command.command_id}/returned",
            command.occurred_at,
            received_back=False,
        )
    if recorded and shipment.status is ShipmentStatus.DELIVERED:
        cash = command.cod_collected
        for order_id in shipment.lines_by_order():  # a merged parcel: each of its orders
            out.command(
                DeliverShipment(
                    command_id=f"{command.command_id}/deliver{_suffix(shipment, order_id)}",
                    order_id=order_id,
                    shipment_id=shipment.id,
                    delivered_at=command.occurred_at,
                    carrier=command.carrier,
                    tracking_no=command.tracking_no,
                    # Merged orders are paid (never COD): cash can only be one order's.
                    cod_collected=(
                        CollectedCash(amount=cash.amount, currency=cash.currency)
                        if cash and order_id == shipment.order_id
                        else None
                    ),
                )
            )
    out.events("shipment", partition, shipment, command.command_id)
