"""The Avro mapper, the record layout and the snapshot state codec, without Kafka."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import JSONTranscoder, StoredEvent, UUIDAsHex
from eventsourcing.utils import get_topic

from oms_events import eventlog, statecodec
from oms_events.avro.codec import SingleObjectCodec
from oms_events.domain import InventoryItem, OrderStatus
from oms_events.eventstore import AvroMapper, EventTypes, UnroutableEvent
from oms_events.eventstore.records import ENVELOPE, RecordFormat
from oms_events.settings import Settings


def _mapper() -> AvroMapper:
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    return AvroMapper(transcoder, codec=SingleObjectCodec(), types=EventTypes())


def _item() -> InventoryItem:
    item = InventoryItem.register("SKU-1", "SH-01", 3)
    item.receive(10, "po")
    item.reserve(uuid4(), uuid4(), 4)
    return item


def test_domain_events_round_trip_as_eventlog_records() -> None:
    mapper, item = _mapper(), _item()
    events = item.collect_events()
    stored = [mapper.to_stored_event(e) for e in events]
    codec = SingleObjectCodec()
    for event, s in zip(events, stored, strict=True):
        assert s.topic == get_topic(type(event))
        record = eventlog.EventLog(codec).record(eventlog.Record(s.state))  # what projections read
        assert (record.originator_id, record.originator_version) == (item.id, s.originator_version)
        again = mapper.to_domain_event(s)
        assert type(again) is type(event)
        assert vars(again) == vars(event)
    rebuilt = None
    for s in stored:
        rebuilt = mapper.to_domain_event(s).mutate(rebuilt)  # type: ignore[attr-defined]
    assert rebuilt is not None and rebuilt.available == item.available == 6


def test_snapshot_round_trips_with_its_aggregate_state() -> None:
    mapper, item = _mapper(), _item()
    item.collect_events()
    snapshot = Snapshot.take(item)
    stored = mapper.to_stored_event(snapshot)
    assert stored.topic == f"{get_topic(InventoryItem)}.Snapshot"
    restored = mapper.to_domain_event(stored)
    assert isinstance(restored, Snapshot)
    again = restored.mutate(None)
    assert isinstance(again, InventoryItem)
    assert (again.reservations, again.on_hand, again.version) == (
        item.reservations,
        item.on_hand,
        item.version,
    )


def test_statecodec_keeps_types_json_cannot() -> None:
    key = uuid4()
    state = {
        "by_id": {key: (uuid4(), 3)},
        "seen": {1, 2},
        "frozen": frozenset({"a"}),
        "when": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        "day": date(2026, 1, 2),
        "price": Decimal("12.30"),
        "status": OrderStatus(next(iter(OrderStatus)).value),
        "plain": [1, "x", None, True, 2.5],
    }
    decoded = statecodec.decode(statecodec.encode(state))
    assert decoded == state
    assert type(decoded["status"]) is OrderStatus
    with pytest.raises(TypeError):
        statecodec.encode({"x": object()})


def test_unregistered_events_use_the_envelope_on_the_default_type() -> None:
    settings = Settings().replace(kafka={"topic_prefix": "p."})
    stored = StoredEvent(uuid4(), 1, "topic1", b"state1")
    with pytest.raises(UnroutableEvent):
        RecordFormat(settings, EventTypes(), SingleObjectCodec(), "events").to_kafka(stored)
    fmt = RecordFormat(settings, EventTypes(default_type="order"), SingleObjectCodec(), "events")
    record = fmt.to_kafka(stored)
    assert record.topic == "p.oms.order.events"
    assert eventlog.header(record.headers, "event") == ENVELOPE

    class Consumed:  # what a consumer hands back
        key, value, headers = record.key, record.value, record.headers

    assert fmt.from_kafka(Consumed()) == stored


def test_registered_events_go_on_their_type_topic_with_eventlog_headers() -> None:
    settings = Settings().replace(kafka={"topic_prefix": "p."})
    mapper, item = _mapper(), _item()
    stored = mapper.to_stored_event(item.collect_events()[0])
    fmt = RecordFormat(settings, EventTypes(), SingleObjectCodec(), "snapshots")
    record = fmt.to_kafka(stored)
    assert record.topic == "p.oms.inventory.snapshots"
    assert record.value == stored.state
    assert [(k, v.decode()) for k, v in record.headers] == [
        ("event", "ItemRegistered"),
        ("aggregate", "inventory"),
        ("version", "1"),
    ]
