"""The infrastructure factory: ``PERSISTENCE_MODULE=oms_events.eventstore``.

Configuration comes through the library's environment (so an application name
prefix such as ``WAREHOUSE_OMS_TOPIC_PREFIX`` works too):

* every ``OMS_*`` setting of :class:`~oms_events.settings.Settings` (bootstrap
  servers, topic prefix, partitions, schema registry);
* ``OMS_EVENTSTORE_TYPES``: the aggregate types this application stores,
  comma-separated (default: all). Each recorder indexes only these topics;
* ``OMS_EVENTSTORE_DEFAULT_TYPE``: the type whose topics take events of classes
  outside the domain registry (default: none, such events are refused);
* ``OMS_EVENTSTORE_TRANSACTIONAL_ID``: prefix of the writers' transactional ids
  (default ``<topic prefix>oms-eventstore.<application name>``); one writer per
  id, a newer instance fences an older one;
* ``OMS_EVENTSTORE_CREATE_TOPICS``: create missing topics of the registry
  (default yes; existing topics are verified, never changed);
* ``OMS_EVENTSTORE_READ_FRESHNESS_MS``: how old the last end-offsets check may
  be for ``select_events`` to skip it (default 0: every read sees every write
  committed before it; writes always check).
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
from eventsourcing.utils import Environment, EnvType, strtobool

from oms_events import topics
from oms_events.avro.codec import Codec
from oms_events.avro.registry import codec_from_settings
from oms_events.eventstore.mapper import AvroMapper
from oms_events.eventstore.recorder import KafkaAggregateRecorder, KafkaApplicationRecorder
from oms_events.eventstore.records import RecordFormat
from oms_events.eventstore.routing import EventTypes
from oms_events.kafka.admin import apply_topics
from oms_events.settings import RegistrySettings, Settings

TYPES = "OMS_EVENTSTORE_TYPES"
DEFAULT_TYPE = "OMS_EVENTSTORE_DEFAULT_TYPE"
TRANSACTIONAL_ID = "OMS_EVENTSTORE_TRANSACTIONAL_ID"
CREATE_TOPICS = "OMS_EVENTSTORE_CREATE_TOPICS"
READ_FRESHNESS_MS = "OMS_EVENTSTORE_READ_FRESHNESS_MS"


def settings_from_env(env: Environment) -> Settings:
    """Settings whose fields the library environment sets override ``OMS_*`` variables."""
    given = {
        name: value
        for name in Settings.model_fields
        if (value := env.get(f"OMS_{name.upper()}")) is not None
    }
    registry = {
        name: value
        for name in RegistrySettings.model_fields
        if (value := env.get(f"OMS_REGISTRY_{name.upper()}")) is not None
    }
    defaults = Settings().model_dump()
    return Settings.model_validate(
        {**defaults, **given, "registry": {**defaults["registry"], **registry}}
    )


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    """An application env that selects this store with ``settings`` (tests, scripts)."""
    env = {
        "PERSISTENCE_MODULE": "oms_events.eventstore",
        "OMS_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "OMS_TOPIC_PREFIX": settings.topic_prefix,
        "OMS_PARTITIONS": str(settings.partitions),
        "OMS_REPLICATION_FACTOR": str(settings.replication_factor),
    }
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
        self.codec = codec or codec_from_settings(self.settings.registry)
        types = types or EventTypes()
        self.types = types.with_default(self.env.get(DEFAULT_TYPE) or types.default_type)
        listed = [t.strip() for t in (self.env.get(TYPES) or "").split(",") if t.strip()]
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
        if strtobool(self.env.get(CREATE_TOPICS, "yes")):
            wanted = {record_format.topic_of[t] for t in self.aggregate_types}
            apply_topics(
                self.settings, [s for s in topics.registry(self.settings) if s.name in wanted]
            )
        base = self.env.get(TRANSACTIONAL_ID) or (
            f"{self.settings.topic_prefix}oms-eventstore.{self.env.name or 'application'}"
        )
        recorder = cls(
            self.settings,
            record_format,
            self.aggregate_types,
            f"{base}.{purpose}",
            read_freshness_s=float(self.env.get(READ_FRESHNESS_MS, "0")) / 1000,
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
