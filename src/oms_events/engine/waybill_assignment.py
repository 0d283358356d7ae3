"""The shipment's e-waybill: AssignWaybill -> WaybillAssigned.

Apart from ``shipment_service`` (which registers it) because the carrier side of the
shipment grows there; this is the warehouse side: ``oms docs pick`` takes a waybill
number from the carrier for every shipment of a new pick wave and records it here, so
that the label, the pack list and the warehouse's later "shipped" all name one number.
"""

from __future__ import annotations

from oms_events.domain.shipment import Shipment
from oms_events.engine.commands import AssignWaybill
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition


def assign_waybill(command: AssignWaybill, partition: Partition, out: Outbox) -> None:
    """Record the waybill on the shipment (once; a different second one is refused)."""
    shipment: Shipment | None = partition.get(command.shipment_id)
    if shipment is None:
        raise ValueError(f"shipment {command.key} does not exist")
    shipment.assign_waybill(command.carrier, command.tracking_no, command.wave)
    out.events("shipment", partition, shipment, command.command_id)
