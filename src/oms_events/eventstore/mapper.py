"""The mapper: domain events to Avro (the eventlog format) instead of the library's JSON.

* A registered domain event is encoded by ``oms_events.eventlog.encode`` with its
  own schema ``oms.<type>.<EventName>``; the StoredEvent's state *is* the Kafka
  record value that projections and sagas read. Compressor and cipher do not
  apply: the value is a contract other readers decode.
* A snapshot of a registered aggregate is encoded with ``oms.eventstore.Snapshot``,
  the aggregate's attributes as tagged JSON (``statecodec``), under the class
  topic ``<aggregate topic>.Snapshot`` so the recorder can tell its aggregate type.
* Any other event falls back to the library's own mapping (JSON transcoder,
  compressor, cipher); the recorder then wraps it in the StoredEvent envelope.

Reading resolves old writer schemas to the current one (Avro), then applies the
event class's ``upcast_vN_vN+1`` methods from the recorded ``class_version``, as
the library's mapper does.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol, Snapshot
from eventsourcing.persistence import (
    Cipher,
    Compressor,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import get_topic, resolve_topic

from oms_events import eventlog, topics
from oms_events.avro.codec import Codec, DecodeError
from oms_events.avro.registry import codec_from_settings
from oms_events.eventstore import statecodec
from oms_events.eventstore.records import is_avro
from oms_events.eventstore.routing import SNAPSHOT, EventTypes
from oms_events.settings import Settings, get_settings

SNAPSHOT_SCHEMA = "oms.eventstore.Snapshot"


class AvroMapper(Mapper[UUID]):
    """Maps domain events to StoredEvents whose state is Avro (see the module docstring)."""

    def __init__(
        self,
        transcoder: Transcoder,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
        *,
        codec: Codec | None = None,
        types: EventTypes | None = None,
        settings: Settings | None = None,
    ) -> None:
        super().__init__(transcoder, compressor, cipher)
        # Defaults let MAPPER_TOPIC=oms_events.eventstore.mapper:AvroMapper work alone.
        self.settings = settings or get_settings()
        self.codec = codec or codec_from_settings(self.settings.registry)
        self.types = types or EventTypes()

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        """Avro for registered events and snapshots, the library's mapping otherwise."""
        cls = type(domain_event)
        if self.types.is_registered(cls):
            aggregate_type = self.types.name_of(cls)[0]
            _, value, _ = eventlog.encode(
                domain_event,
                self.codec,
                self.types.name_of,
                topic=topics.name(self.settings, topics.events(aggregate_type)),
            )
            return StoredEvent(
                originator_id=domain_event.originator_id,
                originator_version=domain_event.originator_version,
                topic=get_topic(cls),
                state=value,
            )
        snapshot_type = (
            self._snapshot_type(domain_event.topic) if isinstance(domain_event, Snapshot) else None
        )
        if isinstance(domain_event, Snapshot) and snapshot_type:
            value = self.codec.encode(
                SNAPSHOT_SCHEMA,
                {
                    "originator_id": domain_event.originator_id,
                    "originator_version": domain_event.originator_version,
                    "timestamp": domain_event.timestamp,
                    "topic": domain_event.topic,
                    "state": statecodec.encode(domain_event.state),
                },
                topic=topics.name(self.settings, topics.snapshots(snapshot_type)),
            )
            return StoredEvent(
                originator_id=domain_event.originator_id,
                originator_version=domain_event.originator_version,
                topic=f"{domain_event.topic}.{SNAPSHOT}",
                state=value,
            )
        return super().to_stored_event(domain_event)

    def _snapshot_type(self, aggregate_topic: str) -> str | None:
        for aggregate_type in self.types.types:
            if self.types.aggregate_topic(aggregate_type) == aggregate_topic:
                return aggregate_type
        return None

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        """Decode Avro state (resolving and upcasting old versions), else the library's way."""
        if not is_avro(stored_event.state):
            return super().to_domain_event(stored_event)
        try:
            if stored_event.topic.endswith(f".{SNAPSHOT}"):
                return self._snapshot(stored_event)
            record = eventlog.decode(stored_event.state, self.codec)
        except (DecodeError, KeyError, ValueError) as exc:
            raise MapperDeserialisationError(
                f"cannot decode {stored_event.topic} {stored_event.originator_id} "
                f"v{stored_event.originator_version}: {exc}"
            ) from exc
        cls = resolve_topic(stored_event.topic)
        state: dict[str, Any] = dict(record.payload)
        from_version = state.pop("class_version", 1)
        class_version = getattr(cls, "class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        if "originator_topic" in getattr(cls, "__dataclass_fields__", {}) and not state.get(
            "originator_topic"
        ):
            state["originator_topic"] = self.types.aggregate_topic(record.aggregate_type)
        state.update(
            originator_id=record.originator_id,
            originator_version=record.originator_version,
            timestamp=record.timestamp,
        )
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event  # type: ignore[no-any-return]

    def _snapshot(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        _, fields = self.codec.decode(stored_event.state, SNAPSHOT_SCHEMA)
        cls = resolve_topic(stored_event.topic)  # <aggregate>.Snapshot: the snapshot class
        snapshot = object.__new__(cls)
        object.__setattr__(
            snapshot,
            "__dict__",
            {
                "originator_id": UUID(str(fields["originator_id"])),
                "originator_version": fields["originator_version"],
                "timestamp": fields["timestamp"],
                "topic": fields["topic"],
                "state": statecodec.decode(fields["state"]),
            },
        )
        return snapshot  # type: ignore[no-any-return]
