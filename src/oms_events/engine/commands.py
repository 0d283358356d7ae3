"""Commands on ``oms.<type>.commands``: their schemas, keys and how a record is built.

A command is an Avro record under ``oms.<type>.commands.<Name>`` (one ``.avsc`` per
command in ``schemas/<type>/commands/``) carrying a ``command_id``, keyed by the id of
the aggregate it addresses, so it lands on the partition that owns that aggregate.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from uuid import UUID

from kafka.partitioner.default import murmur2

from oms_events import topics
from oms_events.avro.codec import Codec
from oms_events.domain.inventory import InventoryItem
from oms_events.settings import Settings

Headers = list[tuple[str, bytes]]


def schema_name(aggregate_type: str, name: str) -> str:
    """Avro full name of a command, e.g. ``oms.inventory.commands.ReserveStock``."""
    return f"oms.{aggregate_type}.commands.{name}"


def split_name(full: str) -> tuple[str, str]:
    """``(aggregate type, command name)`` of a command schema's full name.

    Raises ValueError for a schema that is not a command (an event sent to the
    wrong topic, say), which the processor dead-letters.
    """
    parts = full.split(".")
    if len(parts) != 4 or parts[0] != "oms" or parts[2] != "commands":
        raise ValueError(f"{full} is not a command schema")
    return parts[1], parts[3]


# 8,192 recent keys: the ones that come back are an order's commands within its life and
# the popular items; 65,536 entries held ~25 MiB for keys never seen again (bench/memory.py).
@lru_cache(maxsize=1 << 13)
def partition_for(key: bytes, partitions: int) -> int:
    """The partition the default (murmur2) partitioner gives ``key``: the owner's.

    Cached: kafka-python's murmur2 is pure Python (~10 µs a key) and the same keys
    come back all the time (an order's commands, the popular items).
    """
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def item_key(sku: str, location: str) -> str:
    """Key of commands for the stock of ``sku`` at ``location``."""
    return str(InventoryItem.create_id(sku, location))


@dataclass(frozen=True)
class Outgoing:
    """One record a transaction will produce."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers = field(default_factory=list)
    partition: int | None = None


@dataclass(frozen=True)
class Command:
    """A decoded command as handlers see it."""

    aggregate_type: str
    name: str
    payload: dict[str, Any]
    key: str

    @property
    def command_id(self) -> str:
        """The command's unique id."""
        return str(self.payload["command_id"])

    def uuid(self, field_name: str) -> UUID:
        """A payload field that holds a UUID (raises ValueError when it does not)."""
        value = self.payload[field_name]
        return value if isinstance(value, UUID) else UUID(str(value))


class CommandWriter:
    """Builds command records for any aggregate type, with topic names from the registry."""

    def __init__(self, settings: Settings, codec: Codec) -> None:
        self.settings = settings
        self.codec = codec

    def record(self, aggregate_type: str, name: str, key: str, payload: dict[str, Any]) -> Outgoing:
        """The record of one command for ``oms.<aggregate_type>.commands``."""
        value = self.codec.encode(schema_name(aggregate_type, name), payload)
        topic = topics.name(self.settings, topics.commands(aggregate_type))
        # The owner's partition, named here so the producer skips its own partitioner.
        raw = key.encode()
        number = partition_for(raw, self.settings.kafka.partitions)
        return Outgoing(topic, raw, value, [("command", name.encode())], number)

    def receive_stock(self, sku: str, location: str, quantity: int, reason: str) -> Outgoing:
        """ReceiveStock for ``sku`` at ``location``, with a fresh command id."""
        return self.record(
            "inventory",
            "ReceiveStock",
            item_key(sku, location),
            {
                "command_id": str(uuid.uuid4()),
                "sku": sku,
                "location": location,
                "quantity": quantity,
                "reason": reason,
            },
        )
