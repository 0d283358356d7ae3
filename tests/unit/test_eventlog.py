"""Every domain event survives the trip through its Kafka record unchanged, and an old
writer's record comes back as the current event through the class's upcasters."""

from __future__ import annotations

import dataclasses
import io
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastavro import schemaless_writer

from oms_events import eventlog
from oms_events.avro import catalog
from oms_events.avro.codec import SINGLE_OBJECT_MAGIC, DecodeError, SharedDecodes, SingleObjectCodec
from oms_events.domain.events import event_name, events_by_aggregate_type
from oms_events.domain.inventory import InventoryItem
from oms_events.domain.order import OrderStatus
from tests.evolution import evolve, evolved_codec, v1_value
from tests.unit.domain.samples import (
    events_of_every_kind,
    legacy_order_events,
    replay,
    state,
    todays_order,
)


def test_every_event_kind_round_trips_through_avro() -> None:
    log = eventlog.EventLog(SingleObjectCodec())
    seen = set()
    for event in events_of_every_kind():
        key, value, headers = log.encode(event)
        record = log.record(eventlog.Record(value))
        back = log.to_domain_event(record)
        assert type(back) is type(event)
        assert back.__dict__ == event.__dict__
        # The replay path (value straight to the event) gives the same event.
        fast = log.event(value)
        assert type(fast) is type(event)
        assert fast.__dict__ == event.__dict__
        assert key == str(event.originator_id).encode()
        assert eventlog.header(headers, "version") == str(event.originator_version)
        seen.add(record.name)
    every = {name for classes in events_by_aggregate_type().values() for name in classes}
    assert seen == every, f"no sample for {sorted(every - seen)}"


def test_a_record_is_the_event_record_its_constructor_would_make() -> None:
    # record() fills the frozen dataclass without calling __init__ (for speed): a field
    # added to EventRecord must be set there too.
    log = eventlog.EventLog(SingleObjectCodec())
    event = InventoryItem.register("SKU-1", "WH-1", 5).collect_events()[0]
    raw = eventlog.Record(log.encode(event)[1], topic="t", partition=2, offset=7)
    record = log.record(raw)
    assert set(record.__dict__) == {f.name for f in dataclasses.fields(eventlog.EventRecord)}
    assert record == eventlog.EventRecord(**record.__dict__)
    assert (record.topic, record.partition, record.offset) == ("t", 2, 7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.name = "changed"  # type: ignore[misc]


def _uuids_as_text(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: _uuids_as_text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_uuids_as_text(v) for v in value)
    return value


def test_text_uuids_change_only_the_payloads_uuids_and_only_for_that_reader() -> None:
    codec = SharedDecodes(SingleObjectCodec())  # one memo for both readers, as oms project
    objects = eventlog.EventLog(codec)
    text = eventlog.EventLog(codec, text_uuids=True)
    uuids_seen = 0
    for event in events_of_every_kind():
        _, value, _ = objects.encode(event)
        as_text = text.record(eventlog.Record(value))
        as_objects = objects.record(eventlog.Record(value))
        assert isinstance(as_text.originator_id, UUID)
        assert as_text.originator_id == as_objects.originator_id
        assert as_text.payload == _uuids_as_text(as_objects.payload)
        assert not any(isinstance(v, UUID) for v in as_text.payload.values())
        uuids_seen += sum(isinstance(v, UUID) for v in as_objects.payload.values())
        # Domain events of the same log, and the other reader's records, keep UUIDs.
        assert text.event(value).__dict__ == event.__dict__
        assert objects.record(eventlog.Record(value)) == as_objects
    assert uuids_seen > 0


def test_text_uuids_refuse_a_bad_originator_id_as_a_decode_error() -> None:
    codec = SingleObjectCodec()
    value = codec.encode(
        "oms.inventory.ThresholdSet",
        {
            "originator_id": "not-a-uuid",
            "originator_version": 2,
            "timestamp": datetime.now(UTC),
            "threshold": 3,
        },
        topic="oms.inventory.events",
    )
    with pytest.raises(DecodeError, match="originator_id"):
        eventlog.EventLog(codec, text_uuids=True).record(eventlog.Record(value))


def test_aggregates_rebuilt_from_decoded_records_equal_the_originals() -> None:
    log = eventlog.EventLog(SingleObjectCodec())
    by_aggregate: dict[Any, list[Any]] = defaultdict(list)
    originals: dict[Any, list[Any]] = defaultdict(list)
    for event in events_of_every_kind():
        _, value, _ = log.encode(event)
        by_aggregate[event.originator_id].append(log.event(value))
        originals[event.originator_id].append(event)
    for aggregate_id, events in by_aggregate.items():
        assert state(replay(events)) == state(replay(originals[aggregate_id]))


def test_an_old_writers_event_is_upcast_for_every_reader(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    evolve(monkeypatch)
    codec, v1 = evolved_codec(tmp_path)
    log = eventlog.EventLog(codec)
    item = InventoryItem.register("SKU-1", "WH-1")
    item.receive(5, "po")
    registered, received = item.collect_events()
    old = v1_value(v1, {**received.__dict__, "quantity": 2})

    event = log.event(old)  # the engine's rebuild
    assert (event.quantity, event.reason) == (24, "received (v1)")  # type: ignore[attr-defined]
    record = log.record(eventlog.Record(old))  # projections
    assert record.payload == {"quantity": 24, "reason": "received (v1)"}
    # A current event records version 2 and is not upcast again.
    _, value, _ = log.encode(received)
    assert log.event(value).quantity == 5  # type: ignore[attr-defined]
    rebuilt = log.event(old).mutate(log.event(log.encode(registered)[1]).mutate(None))
    assert rebuilt.on_hand == 24  # type: ignore[attr-defined]


def _as_released(event: Any) -> bytes:
    # The record the previous version wrote: the event under its *released* schema
    # (schemas/released/v1/), which lacks the fields added since.
    aggregate_type, name = event_name(type(event))
    schema = catalog.load(
        catalog.SCHEMAS_DIR / catalog.RELEASED / "v1" / aggregate_type / "events" / f"{name}.avsc"
    )
    record = {k: v for k, v in event.__dict__.items() if k in _field_names(schema)}
    body = io.BytesIO()
    schemaless_writer(body, schema.parsed, record)
    return SINGLE_OBJECT_MAGIC + schema.fingerprint + body.getvalue()


def _field_names(schema: catalog.Schema) -> set[str]:
    return {f["name"] for f in schema.raw["fields"]}


def test_an_order_log_written_by_the_previous_version_replays_to_the_same_state() -> None:
    log = eventlog.EventLog(SingleObjectCodec())
    old = legacy_order_events("T-OLD")
    live = replay(old)  # the state the previous version held in memory
    rebuilt = replay([log.event(_as_released(e)) for e in old])
    assert state(rebuilt) == state(live)
    # And it is the state today's events give the same order: paid at the channel,
    # reserved, confirmed and allocated by one answer, shipped by one shipment per line.
    new = replay(todays_order("T-OLD").collect_events())
    assert len(new.collect_events()) == 0
    for attribute in ("status", "lines", "reservations", "allocations", "shipments", "payments"):
        assert getattr(rebuilt, attribute) == getattr(new, attribute), attribute
    assert rebuilt.is_paid and rebuilt.status is OrderStatus.SHIPPED
