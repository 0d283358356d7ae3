"""How a domain event is laid on Kafka, and read back: the one record format that the
event store, the engine's processors, and the projections share.

A record on ``oms.<type>.events``:

* key: the aggregate id (UUID string, UTF-8), so one aggregate's events stay in order
  on one partition;
* value: the event's whole state, Avro-encoded with the event's own schema
  ``oms.<type>.<EventName>`` (``schemas/<type>/events/<EventName>.avsc``);
* headers: ``event`` (EventName), ``aggregate`` (type), ``version`` (the
  originator version, so readers can index without decoding the value).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.utils import get_topic

from oms_events.avro.codec import Codec
from oms_events.domain.events import aggregate_classes, event_class, event_name

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class EventRecord:
    """A decoded event as readers see it, independent of the Python event class."""

    aggregate_type: str
    name: str
    originator_id: UUID
    originator_version: int
    timestamp: datetime
    payload: dict[str, Any]  # the event's own attributes, without the three above
    topic: str = ""
    partition: int = -1
    offset: int = -1


def schema_name(aggregate_type: str, name: str) -> str:
    """The Avro full name of an event's schema."""
    return f"oms.{aggregate_type}.{name}"


def encode(
    event: DomainEventProtocol[Any],
    codec: Codec,
    names: Callable[[type[Any]], tuple[str, str]] = event_name,
    *,
    topic: str,
) -> tuple[bytes, bytes, Headers]:
    """(key, value, headers) of a domain event for ``topic`` (its events topic).

    ``names`` maps the event class to (aggregate type, event name); the domain
    registry by default. An event class with ``class_version`` > 1 records it (as
    the library's mapper does), so a reader knows which upcasters to apply.
    """
    aggregate_type, name = names(type(event))
    state = dict(event.__dict__)
    class_version = getattr(type(event), "class_version", 1)
    if class_version > 1:
        state["class_version"] = class_version
    value = codec.encode(schema_name(aggregate_type, name), state, topic=topic)
    return (
        str(event.originator_id).encode(),
        value,
        [
            ("event", name.encode()),
            ("aggregate", aggregate_type.encode()),
            ("version", str(event.originator_version).encode()),
        ],
    )


def decode(
    value: bytes, codec: Codec, topic: str = "", partition: int = -1, offset: int = -1
) -> EventRecord:
    """An :class:`EventRecord` from a record's value (raises codec.DecodeError)."""
    full, state = codec.decode(value)
    _, aggregate_type, name = full.split(".", 2)
    originator_id = state.pop("originator_id")
    return EventRecord(
        aggregate_type=aggregate_type,
        name=name,
        originator_id=originator_id if isinstance(originator_id, UUID) else UUID(originator_id),
        originator_version=int(state.pop("originator_version")),
        timestamp=state.pop("timestamp"),
        payload=state,
        topic=topic,
        partition=partition,
        offset=offset,
    )


def to_domain_event(record: EventRecord) -> DomainEventProtocol[Any]:
    """Rebuild the Python domain event (as the library's mapper does: no __init__ call)."""
    state = dict(record.payload)
    state.update(
        originator_id=record.originator_id,
        originator_version=record.originator_version,
        timestamp=record.timestamp,
    )
    return _event(record.aggregate_type, record.name, state)


def decode_event(value: bytes, codec: Codec) -> DomainEventProtocol[Any]:
    """The domain event in a record's value, without an :class:`EventRecord` between:
    the replay path, where that object and its copies were a fifth of the cost."""
    full, state = codec.decode(value)
    _, aggregate_type, name = full.split(".", 2)
    originator_id = state["originator_id"]
    if not isinstance(originator_id, UUID):
        state["originator_id"] = UUID(originator_id)
    return _event(aggregate_type, name, state)


def _event(aggregate_type: str, name: str, state: dict[str, Any]) -> DomainEventProtocol[Any]:
    cls, originator_topic = _event_class(aggregate_type, name)
    if originator_topic and not state.get("originator_topic"):
        state["originator_topic"] = originator_topic
    event = object.__new__(cls)
    event.__dict__.update(state)
    return event  # type: ignore[no-any-return]


@cache
def _event_class(aggregate_type: str, name: str) -> tuple[type[Any], str]:
    # The class, and the originator topic its Created event needs when the record
    # left it empty; looked up once per event type instead of once per event.
    cls = event_class(aggregate_type, name)
    if "originator_topic" in getattr(cls, "__dataclass_fields__", {}):
        return cls, get_topic(aggregate_classes()[aggregate_type])
    return cls, ""


def header(headers: Iterable[tuple[str, bytes]] | None, key: str) -> str | None:
    """A header's value as text, or None."""
    for k, v in headers or ():
        if k == key:
            return v.decode() if isinstance(v, bytes | bytearray) else str(v)
    return None


def replay(records: Iterable[Any], codec: Codec) -> Iterator[EventRecord]:
    """Decode consumer records of an events topic, in their order."""
    for r in records:
        yield decode(r.value, codec, r.topic, r.partition, r.offset)


__all__ = [
    "EventRecord",
    "decode",
    "decode_event",
    "encode",
    "header",
    "replay",
    "schema_name",
    "to_domain_event",
]
