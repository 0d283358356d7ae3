"""The infrastructure factory: ``PERSISTENCE_MODULE=oms_events.eventstore``.

Configuration is :class:`~oms_events.settings.Settings` (its ``kafka``, ``registry``
and ``eventstore`` sections), where the library's environment overrides the ``OMS_*``
variables, so an application name prefix such as ``WAREHOUSE_OMS_KAFKA_TOPIC_PREFIX``
works too. The ``eventstore`` section (``OMS_EVENTSTORE_*``) says which aggregate
types the application stores, the default type of classes outside the domain
registry, the writers' transactional-id prefix, whether missing topics are created,
and how fresh a read's end-offsets check must be.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    Mapper,
    NotSupportedError,
    ProcessRecorder,
    TrackingRecorder,
    Transcoder,
)
from eventsourcing.utils import Environment, EnvType

from oms_events import topics
from oms_events.avro.codec import Codec
from oms_events.avro.registry import codec_from_settings
from oms_events.eventstore.mapper import AvroMapper
from oms_events.eventstore.recorder import KafkaAggregateRecorder, KafkaApplicationRecorder
from oms_events.eventstore.records import RecordFormat
from oms_events.eventtypes import EventTypes
from oms_events.kafka.admin import apply_topics
from oms_events.settings import Settings


def settings_from_env(env: Environment) -> Settings:
    """Settings in which what the library environment sets (it also finds
    application-prefixed names) overrides the ``OMS_*`` variables."""
    base = Settings()
    changes: dict[str, dict[str, Any]] = {}
    for entry in base.entries():
        value = env.get(entry.variable)
        if value is not None:
            section, field = entry.name.split(".", 1)
            changes.setdefault(section, {})[field] = value
    return base.replace(**changes)


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    """An application env that selects this store with ``settings`` (tests, scripts)."""
    env = {
        "PERSISTENCE_MODULE": "oms_events.eventstore",
        "OMS_KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "OMS_KAFKA_TOPIC_PREFIX": settings.kafka.topic_prefix,
        "OMS_KAFKA_PARTITIONS": str(settings.kafka.partitions),
    }
    if settings.kafka.replication_factor is not None:
        env["OMS_KAFKA_REPLICATION_FACTOR"] = str(settings.kafka.replication_factor)
    if settings.registry.url:
        env["OMS_REGISTRY_URL"] = settings.registry.url
        env["OMS_REGISTRY_SUBJECT_STRATEGY"] = settings.registry.subject_strategy
        env["OMS_REGISTRY_COMPATIBILITY"] = settings.registry.compatibility
    env.update(extra)
    return env


class KafkaFactory(InfrastructureFactory[TrackingRecorder]):
    """Builds Kafka recorders and the Avro mapper for an eventsourcing application."""

    def __init__(
        self,
        env: Environment | EnvType | None,
        *,
        types: EventTypes | None = None,
        codec: Codec | None = None,
    ) -> None:
        super().__init__(env)
        self.settings = settings_from_env(self.env)
        self.codec = codec or codec_from_settings(self.settings)
        types = types or EventTypes()
        store = self.settings.eventstore
        # A registry built with its own default (tests, scripts) keeps it; else the setting.
        self.types = types.with_default(types.default_type or store.default_type or None)
        listed = [t.strip() for t in store.types.split(",") if t.strip()]
        self.aggregate_types = listed or list(self.types.types)
        if self.types.default_type and self.types.default_type not in self.aggregate_types:
            self.aggregate_types.append(self.types.default_type)
        for t in self.aggregate_types:
            topics.events(t)  # a typo fails here, not at the first write
        self._recorders: list[KafkaAggregateRecorder] = []

    def mapper(
        self,
        transcoder: Transcoder | None = None,
        mapper_class: type[Mapper[Any]] | None = None,
    ) -> Mapper[Any]:
        """The Avro mapper with this factory's codec, unless MAPPER_TOPIC names another."""
        if mapper_class is None and not self.env.get(self.MAPPER_TOPIC):
            return AvroMapper(
                transcoder=transcoder or self.transcoder(),
                compressor=self.compressor(),
                cipher=self.cipher(),
                codec=self.codec,
                types=self.types,
                settings=self.settings,
            )
        return super().mapper(transcoder, mapper_class)

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        """A recorder on the ``events`` or (purpose="snapshots") ``snapshots`` topics."""
        return self._recorder(KafkaAggregateRecorder, purpose)

    def application_recorder(self) -> ApplicationRecorder:
        """A recorder on the events topics that also keeps a notification log."""
        recorder = self._recorder(KafkaApplicationRecorder, "events")
        assert isinstance(recorder, KafkaApplicationRecorder)
        return recorder

    def _recorder(self, cls: type[KafkaAggregateRecorder], purpose: str) -> KafkaAggregateRecorder:
        if purpose not in ("events", "snapshots"):
            raise ValueError(f"unknown recorder purpose {purpose!r}")
        record_format = RecordFormat(self.settings, self.types, self.codec, purpose)
        store = self.settings.eventstore
        if store.create_topics:
            wanted = {record_format.topic_of[t] for t in self.aggregate_types}
            specs = topics.store_registry(self.settings, self.aggregate_types)
            apply_topics(self.settings, [s for s in specs if s.name in wanted])
        base = store.transactional_id or (
            f"{self.settings.kafka.topic_prefix}oms-eventstore.{self.env.name or 'application'}"
        )
        recorder = cls(
            self.settings,
            record_format,
            self.aggregate_types,
            f"{base}.{purpose}",
            read_freshness_s=store.read_freshness_ms / 1000,
        )
        self._recorders.append(recorder)
        return recorder

    def tracking_recorder(
        self, tracking_recorder_class: type[TrackingRecorder] | None = None
    ) -> TrackingRecorder:
        """Not provided: processors track offsets in Kafka transactions (DESIGN.md 3)."""
        raise NotSupportedError("oms_events.eventstore has no tracking recorder")

    def process_recorder(self) -> ProcessRecorder:
        """Not provided: see :meth:`tracking_recorder`."""
        raise NotSupportedError("oms_events.eventstore has no process recorder")

    def close(self) -> None:
        """Close every recorder this factory made (producers and index consumers)."""
        for recorder in self._recorders:
            recorder.close()
        self._recorders.clear()


Factory = KafkaFactory
