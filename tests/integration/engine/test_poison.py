"""Poison commands on the real broker: each is dead-lettered with its reason, and the
good command after it is applied, by one engine that never stops.

* an order whose events would not fit one Kafka record (a long discount label copied
  into every line): before, the transaction failed on every restart;
* a receipt of 2^62 units: over the domain's limit (10^9), refused by the rule.
"""

from __future__ import annotations

from dataclasses import replace

from oms_events import deadletter, topics
from oms_events.engine.commands import ReceiveStock
from oms_events.engine.runner import Engine
from oms_events.settings import Settings
from tests.integration.engine.harness import (
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
    # A low record limit stands for the broker's 1 MiB: the same check, a lean test.
    settings = light(isolated, partitions=1).replace(kafka={"max_record_bytes": 16_000})
    label = "满100减10" * 3000  # ~36 KB, on each of the order's lines
    big = place_order("BIG-1", "TEA")
    big = replace(big, lines=tuple(replace(ln, promotions=(label,)) for ln in big.lines))
    send(
        settings,
        [
            ReceiveStock(
                command_id="r-huge", sku="TEA", location="WH-SH", quantity=2**62, reason="import"
            ),
            ReceiveStock(command_id="r-ok", sku="TEA", location="WH-SH", quantity=5, reason="po"),
        ],
    )
    send(settings, [big, place_order("GOOD-1", "TEA")])
    engine = Engine(engine_settings(settings))
    engine.start()
    letters_topic = topics.name(settings, topics.DEADLETTER)
    try:

        def settled() -> bool:
            placed = [e for e in read_events(settings, "order") if e.name == "OrderPlaced"]
            return len(read_topic(settings, letters_topic)) >= 2 and len(placed) >= 1

        wait_for(settled, 90)
    finally:
        engine.stop()
    assert not engine.failed()
    letters = {deadletter.read(r.headers).reason.code for r in read_topic(settings, letters_topic)}
    assert letters == {"quantity.over_limit", "record.too_large"}
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
