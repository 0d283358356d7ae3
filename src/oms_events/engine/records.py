"""The records a transaction writes, and command records placed on their owner's partition."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from oms_events import topics
from oms_events.avro.codec import Codec
from oms_events.engine import commands
from oms_events.engine.commands import Command
from oms_events.kafka.partitioner import partition_for as partition_for
from oms_events.settings import Settings

Headers = list[tuple[str, bytes]]
_Entry = TypeVar("_Entry")


def by_item_partition(
    entries: Iterable[_Entry], item: Callable[[_Entry], str], partitions: int
) -> list[tuple[int, list[_Entry]]]:
    """``entries`` grouped by the partition that owns each one's inventory ``item``
    (one XLines command per partition), in partition order, each group in input order."""
    groups: dict[int, list[_Entry]] = defaultdict(list)
    for entry in entries:
        groups[partition_for(item(entry).encode(), partitions)].append(entry)
    return sorted(groups.items())


@dataclass(frozen=True)
class Outgoing:
    """One record a transaction will produce."""

    topic: str
    key: bytes | None
    value: bytes | None  # None: a tombstone on a compacted topic
    headers: Headers = field(default_factory=list)
    partition: int | None = None


class CommandWriter:
    """Builds the record of any command, with topic names from the registry."""

    def __init__(self, settings: Settings, codec: Codec) -> None:
        self.settings = settings
        self.codec = codec

    def record(self, command: Command, key: str | None = None) -> Outgoing:
        """The record of ``command`` for ``oms.<type>.commands``, keyed by the aggregate it
        addresses (or by ``key``: the processor forwards it to the owner)."""
        topic = topics.name(self.settings, topics.commands(command.aggregate_type))
        value = commands.encode(self.codec, command, topic=topic)
        raw = (command.key if key is None else key).encode()
        # The key's partition, named here so the producer skips its own partitioner.
        number = partition_for(raw, self.settings.kafka.partitions)
        return Outgoing(topic, raw, value, [("command", command.name.encode())], number)
