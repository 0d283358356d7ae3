"""The warehouse updates adapter: ``oms.warehouse.updates`` into shipment commands.

Warehouses speak ``oms.warehouse.WarehouseUpdate`` (picked, packed, shipped with
carrier and tracking number), keyed by shipment id. The adapter checks each update
and forwards it as RecordWarehouseUpdate to ``oms.shipment.commands``, in a
transaction with its offsets; what it cannot read goes to the dead-letter topic.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from oms_events import topics
from oms_events.avro.codec import Codec
from oms_events.engine.commands import Command
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.service import Service

WAREHOUSE_UPDATE = "oms.warehouse.WarehouseUpdate"


class WarehouseAdapter(Service):
    """Stateless: each update becomes one shipment command."""

    name = "warehouse"
    aggregate_type = None

    def input_topic(self) -> str:
        """Warehouses publish here."""
        return topics.WAREHOUSE_UPDATES

    def decode(self, codec: Codec, record: Any) -> Command:
        """Read a WarehouseUpdate; anything else is refused."""
        full, payload = codec.decode(record.value)
        if full != WAREHOUSE_UPDATE:
            raise ValueError(f"{full} is not a warehouse update")
        if payload["status"] == "shipped" and not (payload["carrier"] and payload["tracking_no"]):
            raise KeyError("carrier" if not payload["carrier"] else "tracking_no")
        payload["command_id"] = payload["update_id"]
        return Command("warehouse", "WarehouseUpdate", payload, self.key("", payload))

    def key(self, name: str, payload: dict[str, Any]) -> str:
        """Updates are keyed by shipment id."""
        return str(UUID(str(payload["shipment_id"])))

    def target(self, command: Command) -> UUID | None:
        """No state, so nothing to deduplicate here; the shipment does it."""
        return None

    def handle(self, command: Command, partition: Partition, out: Outbox) -> None:
        """Forward as RecordWarehouseUpdate, keyed by the shipment id."""
        p = command.payload
        out.command(
            "shipment",
            "RecordWarehouseUpdate",
            command.key,
            {
                "command_id": p["update_id"],
                "shipment_id": command.key,
                "status": p["status"],
                "carrier": p["carrier"],
                "tracking_no": p["tracking_no"],
            },
        )
