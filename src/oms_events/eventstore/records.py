"""How one :class:`~eventsourcing.persistence.StoredEvent` is laid on Kafka, and read back.

* A registered domain event (and a snapshot) whose state our mapper encoded is
  written exactly as ``oms_events.eventlog`` lays it: key = aggregate
  id, value = the Avro single-object bytes, headers ``event``, ``aggregate``,
  ``version``. Sagas and projections read these records without the library.
* Anything else is wrapped, fields as-is, in the generic envelope
  ``oms.eventstore.StoredEvent`` (schemas/eventstore/StoredEvent.avsc), with
  header ``event=StoredEvent``.

Reading back needs no Avro decoding for domain records: id, version and class
come from the key and headers, and the value *is* the stored state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from oms_events import eventlog, topics
from oms_events.avro.codec import CONFLUENT_MAGIC, SINGLE_OBJECT_MAGIC, Codec
from oms_events.eventtypes import SNAPSHOT, EventTypes
from oms_events.settings import Settings

ENVELOPE = "StoredEvent"
ENVELOPE_SCHEMA = "oms.eventstore.StoredEvent"


@dataclass(frozen=True)
class KafkaRecord:
    """What the producer sends for one stored event."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def is_avro(value: bytes) -> bool:
    """True when ``value`` carries one of the codec's wire-format markers."""
    return value[:2] == SINGLE_OBJECT_MAGIC or value[:1] == CONFLUENT_MAGIC


def parse_id(text: str) -> UUID | str:
    """An originator id as the library wrote it: a UUID when it reads as one."""
    try:
        return UUID(text)
    except ValueError:
        return text


class RecordFormat:
    """Lays stored events on the topics of one purpose (``events`` or ``snapshots``)."""

    def __init__(self, settings: Settings, types: EventTypes, codec: Codec, purpose: str) -> None:
        self.types = types
        self.codec = codec
        base = topics.snapshots if purpose == "snapshots" else topics.events
        kinds = (*types.types, *([types.default_type] if types.default_type else []))
        self.topic_of = {t: topics.name(settings, base(t)) for t in kinds}

    def to_kafka(self, stored: StoredEvent) -> KafkaRecord:
        """The record for one stored event (raises UnroutableEvent)."""
        aggregate_type = self.types.aggregate_type(stored.topic)
        name = self._own_schema(stored.topic, aggregate_type)
        key = str(stored.originator_id).encode()
        if name is not None and is_avro(stored.state):
            value = stored.state
        else:
            name = ENVELOPE
            value = self.codec.encode(
                ENVELOPE_SCHEMA,
                {
                    "originator_id": str(stored.originator_id),
                    "originator_version": stored.originator_version,
                    "topic": stored.topic,
                    "state": stored.state,
                },
                topic=self.topic_of[aggregate_type],
            )
        # The EventLog's headers, so every reader indexes alike.
        headers = eventlog.headers(aggregate_type, name, stored.originator_version)
        return KafkaRecord(self.topic_of[aggregate_type], key, value, headers)

    def _own_schema(self, class_topic: str, aggregate_type: str) -> str | None:
        # The event name of a class that has an Avro schema of its own, else None.
        registered = self.types.registered(class_topic)
        if registered is not None:
            return registered[1]
        if aggregate_type in self.types.types and class_topic == self.types.class_topic(
            aggregate_type, SNAPSHOT
        ):
            return SNAPSHOT
        return None

    def from_kafka(self, record: Any) -> StoredEvent:
        """The stored event of a consumer record of one of our topics."""
        name = eventlog.header(record.headers, "event")
        if name == ENVELOPE:
            _, fields = self.codec.decode(record.value)
            return StoredEvent(
                originator_id=parse_id(fields["originator_id"]),
                originator_version=int(fields["originator_version"]),
                topic=fields["topic"],
                state=fields["state"],
            )
        aggregate_type = eventlog.header(record.headers, "aggregate")
        version = eventlog.header(record.headers, "version")
        if name is None or aggregate_type is None or version is None:
            raise ValueError(
                f"record {record.topic}/{record.partition}@{record.offset} lacks the "
                "event/aggregate/version headers"
            )
        return StoredEvent(
            originator_id=parse_id(record.key.decode()),
            originator_version=int(version),
            topic=self.types.class_topic(aggregate_type, name),
            state=record.value,
        )
