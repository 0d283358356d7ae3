"""The mapper: domain events to Avro (``oms_events.eventlog``) instead of the library's JSON.

* A registered domain event is encoded by :class:`~oms_events.eventlog.EventLog`
  with its own schema ``oms.<type>.<EventName>``; the StoredEvent's state *is* the
  Kafka record value that the engine, projections and sagas read. Compressor and
  cipher do not apply: the value is a contract other readers decode.
* A snapshot of a registered aggregate is encoded by the same EventLog
  (``oms.eventstore.Snapshot``), under the class topic ``<aggregate topic>.Snapshot``
  so the recorder can tell its aggregate type.
* Any other event falls back to the library's own mapping (JSON transcoder,
  compressor, cipher); the recorder then wraps it in the StoredEvent envelope.

Reading goes through the EventLog too: old writer schemas resolved, upcasters applied.
"""

from __future__ import annotations

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

from oms_events.avro.codec import Codec, DecodeError
from oms_events.avro.registry import codec_from_settings
from oms_events.eventlog import EventLog
from oms_events.eventstore.records import is_avro
from oms_events.eventtypes import SNAPSHOT, EventTypes
from oms_events.settings import Settings, get_settings


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
        settings = settings or get_settings()
        self.types = types or EventTypes()
        codec = codec or codec_from_settings(settings)
        self.log = EventLog(codec, self.types, settings)

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        """Avro for registered events and snapshots, the library's mapping otherwise."""
        cls = type(domain_event)
        if self.types.is_registered(cls):
            _, value, _ = self.log.encode(domain_event)
            return StoredEvent(
                originator_id=domain_event.originator_id,
                originator_version=domain_event.originator_version,
                topic=get_topic(cls),
                state=value,
            )
        if isinstance(domain_event, Snapshot):
            aggregate_type = self._snapshot_type(domain_event.topic)
            if aggregate_type is not None:
                _, value, _ = self.log.encode_snapshot(domain_event, aggregate_type)
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
        """Decode Avro state through the EventLog, else the library's way."""
        if not is_avro(stored_event.state):
            return super().to_domain_event(stored_event)
        try:
            if stored_event.topic.endswith(f".{SNAPSHOT}"):
                # <aggregate>.Snapshot names the aggregate's own snapshot class.
                snapshot, _ = self.log.snapshot(
                    stored_event.state, resolve_topic(stored_event.topic)
                )
                return snapshot
            return self.log.event(stored_event.state)
        except (DecodeError, KeyError, ValueError) as exc:
            raise MapperDeserialisationError(
                f"cannot decode {stored_event.topic} {stored_event.originator_id} "
                f"v{stored_event.originator_version}: {exc}"
            ) from exc
