"""A shipment withdrawn for a re-route (``oms order reroute``), a part of the shipment
service: WithdrawShipment -> ShipmentCancelled and the warehouse told (an
AllocationCancelled record, as for a cancellation) while nothing is picked; either way
the order is answered with RecordShipmentWithdrawn, so a refused re-route gives the new
location's stock back instead of waiting forever."""

from __future__ import annotations

from oms_events.domain.shipment import Shipment, ShipmentStatus
from oms_events.engine import interception
from oms_events.engine.commands import RecordShipmentWithdrawn, WithdrawShipment
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition


def withdraw_shipment(command: WithdrawShipment, partition: Partition, out: Outbox) -> None:
    """Cancel the shipment if nothing is picked yet; tell the order what happened."""
    shipment: Shipment | None = partition.get(command.shipment_id)
    if shipment is None:
        withdrawn, reason = False, "shipment unknown"
    elif shipment.status is ShipmentStatus.CREATED:
        shipment.cancel(command.reason)
        interception.tell_warehouse(shipment, command.reason, out)
        out.events("shipment", partition, shipment, command.command_id)
        withdrawn, reason = True, ""
    elif shipment.status is ShipmentStatus.CANCELLED and shipment.close_reason == command.reason:
        withdrawn, reason = True, ""  # withdrawn before: the same answer again
    else:
        withdrawn, reason = False, f"the shipment is {shipment.status.value}"
    out.command(
        RecordShipmentWithdrawn(
            command_id=f"{command.command_id}/answer",
            order_id=command.order_id,
            shipment_id=command.shipment_id,
            withdrawn=withdrawn,
            reason=reason,
        )
    )
