"""Poison commands on the real broker: each is dead-lettered with its reason, and the
good command after it is applied, by one engine that never stops.

* an order whose events would not fit one Kafka record (a long discount label copied
  into every line): before, the transaction failed on every restart;
* a receipt of 2^62 units: over the domain's limit (10^9), refused by the rule;
* an order whose OrderPlaced the broker refuses (the events topic's max.message.bytes
  set below kafka.max_record_bytes): every transaction holding it aborts, so the
  processor narrows to one record per transaction and dead-letters it (record.poison);
  such an order in a command bundle: each part of the bundle gets its own dead letter.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from oms_events import deadletter, topics
from oms_events.engine import bundles
from oms_events.engine.commands import PlaceOrder, ReceiveStock
from oms_events.engine.records import CommandWriter
from oms_events.engine.runner import Engine
from oms_events.kafka.connection import admin, producer
from oms_events.kafka.port import NewTopic
from oms_events.settings import Settings
from tests.integration.engine.harness import (
    CODEC,
    engine_settings,
    light,
    place_order,
    read_events,
    read_topic,
    send,
    wait_for,
)


def test_poison_commands_are_dead_lettered_and_the_next_ones_applied(
    isolated: Settings,
) -> None:
    # Low limits stand for the broker's 1 MiB: the same checks, a lean test. The events
    # topic takes less than kafka.max_record_bytes (a misconfiguration no check sees).
    settings = isolated.replace(kafka={"partitions": 1, "max_record_bytes": 16_000})
    client = admin(settings)
    events = topics.name(settings, topics.events("order"))
    client.create_topics([NewTopic(events, 1, 1, {"max.message.bytes": "8000"})])
    client.close()
    settings = light(settings, partitions=1)

    def labelled(external_id: str, label: str) -> PlaceOrder:
        order = place_order(external_id, "TEA")
        return replace(order, lines=tuple(replace(ln, promotions=(label,)) for ln in order.lines))

    big = labelled("BIG-1", "满100减10" * 3000)  # ~33 KB: over kafka.max_record_bytes
    refused = labelled("REFUSED-1", "满100减10" * 1000)  # ~11 KB: over the topic's limit
    send(
        settings,
        [
            ReceiveStock(
                command_id="r-huge", sku="TEA", location="WH-SH", quantity=2**62, reason="import"
            ),
            ReceiveStock(command_id="r-ok", sku="TEA", location="WH-SH", quantity=5, reason="po"),
        ],
    )
    send(settings, [big, refused, place_order("GOOD-1", "TEA")])
    # A bundle whose first part the broker refuses too: every transaction holding the
    # bundle fails, so each of its parts is dead-lettered alone, its own bytes kept.
    writer = CommandWriter(settings, CODEC)
    parts = [
        writer.record(labelled("REFUSED-2", "满100减10" * 1000)),
        writer.record(place_order("BESIDE-1", "TEA")),
    ]
    (bundle,) = bundles.pack(parts, range(2), CODEC, limit=100_000)
    p = producer(settings)
    p.send(bundle.topic, key=bundle.key, value=bundle.value, headers=bundle.headers)
    p.flush()
    p.close()
    engine = Engine(engine_settings(settings, poison_attempts=2))
    engine.start()
    letters_topic = topics.name(settings, topics.DEADLETTER)
    try:

        def settled() -> bool:
            placed = [e for e in read_events(settings, "order") if e.name == "OrderPlaced"]
            return len(read_topic(settings, letters_topic)) >= 5 and len(placed) >= 1

        wait_for(settled, 90)
    finally:
        engine.stop()
    assert not engine.failed()
    read = read_topic(settings, letters_topic)
    letters = Counter(deadletter.read(r.headers).reason.code for r in read)
    assert letters == {"quantity.over_limit": 1, "record.too_large": 1, "record.poison": 3}
    poison = [r.value for r in read if deadletter.read(r.headers).reason.code == "record.poison"]
    assert parts[0].value in poison and parts[1].value in poison
    received = [
        e.payload["quantity"]
        for e in read_events(settings, "inventory")
        if e.name == "StockReceived"
    ]
    assert received == [5]
    placed = [
        e.payload["order_no"] for e in read_events(settings, "order") if e.name == "OrderPlaced"
    ]
    assert placed == ["SO-GOOD-1"]
