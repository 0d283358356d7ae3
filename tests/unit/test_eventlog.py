"""Every domain event survives the trip through its Kafka record unchanged."""

from __future__ import annotations

import io
from collections import defaultdict
from typing import Any

from fastavro import schemaless_writer

from oms_events import eventlog
from oms_events.avro import catalog
from oms_events.avro.codec import SINGLE_OBJECT_MAGIC, SingleObjectCodec
from oms_events.domain.events import event_name, events_by_aggregate_type
from oms_events.domain.order import Order, OrderStatus
from tests.unit.domain.samples import (
    events_of_every_kind,
    legacy_order_events,
    line,
    order,
    replay,
    state,
)

TOPIC = "oms.any.events"  # single-object encoding does not depend on the topic


def test_every_event_kind_round_trips_through_avro() -> None:
    codec = SingleObjectCodec()
    seen = set()
    for event in events_of_every_kind():
        key, value, headers = eventlog.encode(event, codec, topic=TOPIC)
        record = eventlog.decode(value, codec)
        back = eventlog.to_domain_event(record)
        assert type(back) is type(event)
        assert back.__dict__ == event.__dict__
        # The replay path (value straight to the event) gives the same event.
        fast = eventlog.decode_event(value, codec)
        assert type(fast) is type(event)
        assert fast.__dict__ == event.__dict__
        assert key == str(event.originator_id).encode()
        assert eventlog.header(headers, "version") == str(event.originator_version)
        seen.add(record.name)
    every = {name for classes in events_by_aggregate_type().values() for name in classes}
    assert seen == every, f"no sample for {sorted(every - seen)}"


def test_aggregates_rebuilt_from_decoded_records_equal_the_originals() -> None:
    codec = SingleObjectCodec()
    by_aggregate: dict[Any, list[Any]] = defaultdict(list)
    originals: dict[Any, list[Any]] = defaultdict(list)
    for event in events_of_every_kind():
        _, value, _ = eventlog.encode(event, codec, topic=TOPIC)
        by_aggregate[event.originator_id].append(
            eventlog.to_domain_event(eventlog.decode(value, codec))
        )
        originals[event.originator_id].append(event)
    for aggregate_id, events in by_aggregate.items():
        assert state(replay(events)) == state(replay(originals[aggregate_id]))


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
    codec = SingleObjectCodec()
    old = legacy_order_events("T-OLD")
    live = replay(old)  # the state the previous version held in memory
    rebuilt = replay([eventlog.decode_event(_as_released(e), codec) for e in old])
    assert state(rebuilt) == state(live)
    # And it is the state today's events give the same order: paid at the channel,
    # reserved, confirmed and allocated by one answer, shipped by one shipment per line.
    o: Order = order(
        lines=[line(1, "SKU-1"), line(2, "SKU-2", 1, 500)],
        external_id="T-OLD",
        paid_at_channel="tmall:T-OLD",
    )
    o.reserve_line(1, o.reservation_id(1), "WH-SH")
    o.allocate([(2, o.reservation_id(2), "WH-BJ")])
    o.ship_line(1, "shipment-1")
    o.ship_line(2, "shipment-2")
    new = replay(o.collect_events())
    assert len(new.collect_events()) == 0
    for attribute in ("status", "lines", "reservations", "allocations", "shipments", "payments"):
        assert getattr(rebuilt, attribute) == getattr(new, attribute), attribute
    assert rebuilt.is_paid and rebuilt.status is OrderStatus.SHIPPED
