"""Every domain event survives the trip through its Kafka record unchanged, and an old
writer's record comes back as the current event through the class's upcasters."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from oms_events import eventlog
from oms_events.avro.codec import SingleObjectCodec
from oms_events.domain.events import events_by_aggregate_type
from oms_events.domain.inventory import InventoryItem
from tests.evolution import evolve, evolved_codec, v1_value
from tests.unit.domain.samples import events_of_every_kind, replay, state


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
