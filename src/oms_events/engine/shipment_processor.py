"""The shipment processor: one Shipment per order and location, moved by its warehouse.

Consumes ``oms.shipment.commands`` keyed by shipment id:

* CreateShipment (from allocation) -> ShipmentCreated
* RecordWarehouseUpdate (from the warehouse adapter) -> ShipmentPicked / Packed /
  Shipped; on shipped, CommitStock per line to the inventory (the goods have left)
  and ShipLines to the order.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from oms_events.domain.shipment import Shipment, ShipmentLine, ShipmentStatus
from oms_events.engine.commands import Command, item_key
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.service import Service


class ShipmentService(Service):
    """Handlers of shipment commands."""

    name = "shipment"
    aggregate_type = "shipment"

    def key(self, name: str, payload: dict[str, Any]) -> str:
        """Every shipment command carries its shipment id."""
        return str(UUID(str(payload["shipment_id"])))

    def handle(self, command: Command, partition: Partition, out: Outbox) -> None:
        """Create the shipment, or apply a warehouse's confirmation to it."""
        p = command.payload
        shipment: Shipment | None = partition.get(UUID(command.key))
        if command.name == "CreateShipment":
            if shipment is not None:
                return
            shipment = Shipment.create(
                UUID(p["order_id"]),
                p["location"],
                [
                    ShipmentLine(
                        ln["line_no"], ln["sku"], ln["quantity"], UUID(ln["reservation_id"])
                    )
                    for ln in p["lines"]
                ],
            )
            if str(shipment.id) != command.key:
                raise ValueError(f"shipment id {command.key} is not that of its order+location")
        elif command.name == "RecordWarehouseUpdate":
            if shipment is None:
                raise ValueError(f"shipment {command.key} does not exist")
            was_shipped = shipment.status is ShipmentStatus.SHIPPED
            if p["status"] == "picked":
                shipment.pick()
            elif p["status"] == "packed":
                shipment.pack()
            else:
                shipment.ship(p["carrier"] or "", p["tracking_no"] or "")
                if not was_shipped:
                    self._shipped(shipment, out, command.command_id)
        else:
            raise ValueError(f"shipment has no command {command.name}")
        out.events("shipment", partition, shipment, command.command_id)

    @staticmethod
    def _shipped(shipment: Shipment, out: Outbox, cause: str) -> None:
        for line in shipment.lines:
            out.command(
                "inventory",
                "CommitStock",
                item_key(line.sku, shipment.location),
                {
                    "command_id": f"{cause}/commit/{line.line_no}",
                    "order_id": str(shipment.order_id),
                    "reservation_id": str(line.reservation_id),
                    "sku": line.sku,
                    "location": shipment.location,
                },
            )
        out.command(
            "order",
            "ShipLines",
            str(shipment.order_id),
            {
                "command_id": f"{cause}/ship",
                "order_id": str(shipment.order_id),
                "shipment_id": str(shipment.id),
                "line_nos": [line.line_no for line in shipment.lines],
            },
        )
