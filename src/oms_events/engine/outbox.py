"""What one transaction will write: events, replies, follow-up commands, dead letters."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate

from oms_events import eventlog, topics
from oms_events.avro.codec import Codec
from oms_events.engine.commands import Command
from oms_events.engine.partition import Partition
from oms_events.engine.records import CommandWriter, Outgoing
from oms_events.settings import Settings


class Outbox:
    """Records gathered while a batch is handled; the processor sends them all inside
    the batch's transaction, after which they become visible together or not at all."""

    def __init__(self, settings: Settings, codec: Codec) -> None:
        self.settings = settings
        self.codec = codec
        self.commands = CommandWriter(settings, codec)
        self.records: list[Outgoing] = []
        self.events_written = 0

    def add(self, record: Outgoing) -> None:
        """Queue any record."""
        self.records.append(record)

    def command(self, command: Command) -> None:
        """Queue a command for another (or this) processor, keyed by its aggregate."""
        self.records.append(self.commands.record(command))

    def events(
        self, aggregate_type: str, partition: Partition, aggregate: Aggregate, command_id: str
    ) -> list[Any]:
        """Queue the aggregate's new events for its events partition; return them.

        The events go to the partition number of the command partition being handled
        (not wherever the key hashes): that is the one-writer rule made explicit.
        ``command_id`` rides along as a header so a replay knows what was applied.
        """
        new = list(aggregate.collect_events())
        if not new:
            return new
        topic = topics.name(self.settings, topics.events(aggregate_type))
        for event in new:
            key, value, headers = eventlog.encode(event, self.codec)
            headers.append(("command_id", command_id.encode()))
            self.records.append(Outgoing(topic, key, value, headers, partition.number))
        partition.aggregates[aggregate.id] = aggregate
        partition.commands_seen.setdefault(aggregate.id, set()).add(command_id)
        self.events_written += len(new)
        return new
