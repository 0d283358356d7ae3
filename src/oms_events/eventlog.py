"""The one event path: a Kafka record of an events or snapshots topic <-> a current
domain event. The engine's rebuild, the event store, projections and replays all read
and write through :class:`EventLog`, so an upcaster written once serves all of them.

A record on ``oms.<type>.events``:

* key: the aggregate id (UUID string, UTF-8), so one aggregate's events stay in order
  on one partition;
* value: the event's whole state, Avro-encoded with the event's own schema
  ``oms.<type>.<EventName>`` (``schemas/<type>/events/<EventName>.avsc``);
* headers: ``event`` (EventName), ``aggregate`` (type), ``version`` (the
  originator version, so readers can index without decoding the value); the engine
  adds ``command_id``.

Reading resolves the writer's schema to the current one (the Avro codec), then applies
the event class's ``upcast_vN_vN+1`` methods from the recorded ``class_version`` (as
the ``eventsourcing`` mapper does), then builds the event without calling ``__init__``.

A record on ``oms.<type>.snapshots`` holds an aggregate's state at one version
(schema ``oms.eventstore.Snapshot``, headers ``event=Snapshot``, ``aggregate``,
``version``); the aggregate class's own upcasters apply when it is restored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol, Snapshot

from oms_events import statecodec, topics
from oms_events.avro.codec import Codec, DecodeError
from oms_events.eventtypes import SNAPSHOT, EventTypes, domain_types
from oms_events.settings import Settings, get_settings

Headers = list[tuple[str, bytes]]

SNAPSHOT_SCHEMA = "oms.eventstore.Snapshot"
CHECKPOINT_SCHEMA = "oms.eventstore.SnapshotCheckpoint"
CHECKPOINT = "SnapshotCheckpoint"  # key and event header of a snapshots partition's checkpoint
ORIGINATOR_IDS = 50_000  # originator ids a text-uuid EventLog keeps parsed


@dataclass(frozen=True)
class EventRecord:
    """A decoded, upcast event as readers see it, independent of the Python event class."""

    aggregate_type: str
    name: str
    originator_id: UUID
    originator_version: int
    timestamp: datetime
    payload: dict[str, Any]  # the event's own attributes, without the three above
    topic: str = ""
    partition: int = -1
    offset: int = -1


@dataclass(frozen=True)
class Record:
    """A consumer record reduced to what readers use; what tests and pure functions
    build (any object with these attributes will do)."""

    value: bytes
    key: bytes | None = None
    headers: Headers = field(default_factory=list)
    topic: str = ""
    partition: int = -1
    offset: int = -1
    timestamp: int = 0  # epoch milliseconds, as Kafka gives it


def schema_name(aggregate_type: str, name: str) -> str:
    """The Avro full name of an event's schema."""
    return f"oms.{aggregate_type}.{name}"


def headers(aggregate_type: str, name: str, version: int) -> Headers:
    """The headers every record of an events or snapshots topic carries."""
    return [
        ("event", name.encode()),
        ("aggregate", aggregate_type.encode()),
        ("version", str(version).encode()),
    ]


def header(headers: Iterable[tuple[str, bytes]] | None, key: str) -> str | None:
    """A header's value as text, or None."""
    for k, v in headers or ():
        if k == key:
            return v.decode() if isinstance(v, bytes | bytearray) else str(v)
    return None


class EventLog:
    """Encodes domain events and snapshots for Kafka and decodes them back, current."""

    def __init__(
        self,
        codec: Codec,
        types: EventTypes | None = None,
        settings: Settings | None = None,
        *,
        text_uuids: bool = False,
    ) -> None:
        """``text_uuids``: :meth:`record` leaves the payload's uuid fields as ``str``
        (``originator_id`` stays a ``UUID``), for readers that only write them out;
        domain events (:meth:`event`) always get ``UUID`` objects."""
        self.codec = codec
        self.text_uuids = text_uuids
        # Text uuids: originator ids seen lately, as UUID objects. An aggregate has many
        # events, so most come from here instead of parsing the string again.
        self._ids: dict[str, UUID] = {}
        self.types = types or domain_types()
        # Names the topics written to (a registry codec's subjects are per topic).
        self.settings = settings or get_settings()
        # Event class -> the originator topic its Created event needs when a record
        # left it empty ("" for other events): looked up once per class, not per event.
        self._origin: dict[type[Any], str] = {}

    # --- events -----------------------------------------------------------------------

    def encode(self, event: DomainEventProtocol[Any]) -> tuple[bytes, bytes, Headers]:
        """(key, value, headers) of a registered domain event.

        An event class with ``class_version`` > 1 records it, so a reader knows which
        upcasters to apply to what this writer wrote.
        """
        aggregate_type, name = self.types.name_of(type(event))
        state = dict(event.__dict__)
        class_version = getattr(type(event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        topic = topics.name(self.settings, topics.events(aggregate_type))
        value = self.codec.encode(schema_name(aggregate_type, name), state, topic=topic)
        key = str(event.originator_id).encode()
        return key, value, headers(aggregate_type, name, event.originator_version)

    def event(self, value: bytes) -> DomainEventProtocol[Any]:
        """The current domain event in a record's value (raises codec.DecodeError,
        KeyError for an event class the registry lacks)."""
        aggregate_type, name, state = self._decode(value)
        cls = self.types.event_class(aggregate_type, name)
        return self._build(cls, aggregate_type, self._upcast(cls, state))

    def record(self, r: Any) -> EventRecord:
        """An :class:`EventRecord` of a consumer record (``.value``, and ``.topic``,
        ``.partition``, ``.offset`` when it has them); the projections' view."""
        aggregate_type, name, state = self._decode(r.value, self.text_uuids)
        try:
            cls = self.types.event_class(aggregate_type, name)
        except KeyError:
            state.pop("class_version", None)  # no class, so nothing to upcast with
        else:
            state = self._upcast(cls, state)
        # Every field set at once, as ``_build`` does for events: a frozen dataclass's
        # __init__ sets its nine fields one object.__setattr__ at a time, which cost
        # half of what this method spent beside the Avro decoding (1.6 of ~3.3 µs).
        record = object.__new__(EventRecord)
        object.__setattr__(
            record,
            "__dict__",
            {
                "aggregate_type": aggregate_type,
                "name": name,
                "originator_id": state.pop("originator_id"),
                "originator_version": int(state.pop("originator_version")),
                "timestamp": state.pop("timestamp"),
                "payload": state,
                "topic": getattr(r, "topic", ""),
                "partition": getattr(r, "partition", -1),
                "offset": getattr(r, "offset", -1),
            },
        )
        return record

    def to_domain_event(self, record: EventRecord) -> DomainEventProtocol[Any]:
        """The domain event of an (already upcast) :class:`EventRecord`."""
        cls = self.types.event_class(record.aggregate_type, record.name)
        state = dict(record.payload)
        state.update(
            originator_id=record.originator_id,
            originator_version=record.originator_version,
            timestamp=record.timestamp,
        )
        return self._build(cls, record.aggregate_type, state)

    def _decode(self, value: bytes, text_uuids: bool = False) -> tuple[str, str, dict[str, Any]]:
        full, state = self.codec.decode(value, text_uuids=text_uuids)
        _, aggregate_type, name = full.split(".", 2)
        originator_id = state["originator_id"]
        if not isinstance(originator_id, UUID):
            state["originator_id"] = self._id(full, originator_id)
        return aggregate_type, name, state

    def _id(self, full: str, text: str) -> UUID:
        found = self._ids.get(text)
        if found is None:
            try:
                found = UUID(text)
            except (TypeError, ValueError) as exc:  # a string no logical type checked
                raise DecodeError(f"{full}: originator_id {text!r}: {exc}") from exc
            if len(self._ids) >= ORIGINATOR_IDS:
                self._ids.clear()  # bounded; a cleared entry costs one parse again
            self._ids[text] = found
        return found

    @staticmethod
    def _upcast(cls: type[Any], state: dict[str, Any]) -> dict[str, Any]:
        # Avro already resolved the writer's schema; what the schema cannot say (a
        # meaning that changed) the class's upcasters say, from the recorded version.
        from_version = state.pop("class_version", 1) or 1
        class_version = getattr(cls, "class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        return state

    def _build(
        self, cls: type[Any], aggregate_type: str, state: dict[str, Any]
    ) -> DomainEventProtocol[Any]:
        # As the library's mapper does: no __init__ call, the state is the event.
        origin = self._origin.get(cls)
        if origin is None:
            created = "originator_topic" in getattr(cls, "__dataclass_fields__", {})
            known = aggregate_type in self.types.types
            origin = self._origin[cls] = (
                self.types.aggregate_topic(aggregate_type) if created and known else ""
            )
        if origin and not state.get("originator_topic"):
            state["originator_topic"] = origin
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event  # type: ignore[no-any-return]

    # --- snapshots --------------------------------------------------------------------

    def encode_snapshot(
        self, snapshot: Snapshot, aggregate_type: str, command_ids: Iterable[str] = ()
    ) -> tuple[bytes, bytes, Headers]:
        """(key, value, headers) of a snapshot of an aggregate of ``aggregate_type``;
        ``command_ids`` are the commands it applied that a redelivery may repeat."""
        value = self.codec.encode(
            SNAPSHOT_SCHEMA,
            {
                "originator_id": snapshot.originator_id,
                "originator_version": snapshot.originator_version,
                "timestamp": snapshot.timestamp,
                "topic": snapshot.topic,
                "state": statecodec.encode(snapshot.state),
                "command_ids": list(command_ids),
            },
            topic=topics.name(self.settings, topics.snapshots(aggregate_type)),
        )
        key = str(snapshot.originator_id).encode()
        return key, value, headers(aggregate_type, SNAPSHOT, snapshot.originator_version)

    def snapshot(self, value: bytes, cls: type[Snapshot] = Snapshot) -> tuple[Snapshot, list[str]]:
        """The snapshot in a record's value (an instance of ``cls``: the event store
        asks for the aggregate's own Snapshot class), and its command ids."""
        _, fields = self.codec.decode(value, SNAPSHOT_SCHEMA)
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
        return snapshot, list(fields.get("command_ids") or ())

    def encode_checkpoint(
        self, aggregate_type: str, partition: int, events_since_ms: int
    ) -> tuple[bytes, bytes, Headers]:
        """(key, value, headers) of the engine's checkpoint of a snapshots partition: every
        event of the events partition older than ``events_since_ms`` is in a snapshot."""
        value = self.codec.encode(
            CHECKPOINT_SCHEMA,
            {
                "partition": partition,
                "events_since": datetime.fromtimestamp(events_since_ms / 1000, UTC),
            },
            topic=topics.name(self.settings, topics.snapshots(aggregate_type)),
        )
        return CHECKPOINT.encode(), value, [("event", CHECKPOINT.encode())]

    def checkpoint(self, value: bytes) -> int:
        """``events_since`` (epoch milliseconds) of a checkpoint record's value."""
        _, fields = self.codec.decode(value, CHECKPOINT_SCHEMA)
        since: datetime = fields["events_since"]
        return int(since.timestamp() * 1000)


__all__ = [
    "CHECKPOINT",
    "SNAPSHOT_SCHEMA",
    "EventLog",
    "EventRecord",
    "Record",
    "header",
    "headers",
    "schema_name",
]
