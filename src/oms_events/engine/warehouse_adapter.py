"""The warehouse updates adapter: ``oms.warehouse.updates`` into shipment commands.

Warehouses speak ``oms.warehouse.WarehouseUpdate`` (picked, packed, shipped with
carrier and tracking number) and ``oms.warehouse.ParcelReturned`` (a parcel the
carrier brought back is in the warehouse again), keyed by shipment id. The adapter
checks each update, reads it as a RecordWarehouseUpdate (or RecordParcelReturned) and
forwards that to ``oms.shipment.commands``,
in a transaction with its offsets; what it cannot read goes to the dead-letter topic.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from oms_events import topics
from oms_events.avro.codec import Codec
from oms_events.engine.commands import (
    Command,
    RecordParcelReturned,
    RecordWarehouseUpdate,
    UnknownCommand,
)
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.service import Service

WAREHOUSE_UPDATE = "oms.warehouse.WarehouseUpdate"
PARCEL_RETURNED = "oms.warehouse.ParcelReturned"


class WarehouseAdapter(Service):
    """Stateless: each update becomes one shipment command."""

    name = "warehouse"
    aggregate_type = None

    def __init__(self) -> None:
        self.handlers = {RecordWarehouseUpdate: self.forward, RecordParcelReturned: self.forward}

    def input_topic(self) -> str:
        """Warehouses publish here."""
        return topics.WAREHOUSE_UPDATES

    def decode(self, codec: Codec, record: Any) -> Command:
        """Read a WarehouseUpdate as the shipment command it asks for; anything else is
        refused, and so is a shipped update without carrier and tracking number."""
        full, update = codec.decode(record.value)
        if full == PARCEL_RETURNED:
            return RecordParcelReturned(
                command_id=update["update_id"],
                shipment_id=UUID(str(update["shipment_id"])),
                received_at=update["at"],
            )
        if full != WAREHOUSE_UPDATE:
            raise UnknownCommand(f"{full} is not a warehouse update")
        if update["status"] == "shipped" and not (update["carrier"] and update["tracking_no"]):
            raise KeyError("carrier" if not update["carrier"] else "tracking_no")
        return RecordWarehouseUpdate(
            command_id=update["update_id"],
            shipment_id=UUID(str(update["shipment_id"])),
            status=update["status"],
            carrier=update["carrier"],
            tracking_no=update["tracking_no"],
        )

    def target(self, command: Command) -> UUID | None:
        """No state, so nothing to deduplicate here; the shipment does it."""
        return None

    def forward(
        self,
        command: RecordWarehouseUpdate | RecordParcelReturned,
        partition: Partition,
        out: Outbox,
    ) -> None:
        """Send the update on to the shipment, keyed by the shipment id."""
        out.command(command)
