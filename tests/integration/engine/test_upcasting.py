"""An event written in an older schema version is replayed by the engine, upcast, and a
command against its aggregate then succeeds (real broker).

The previous release (tests/evolution.py) counted StockReceived in cases of 12. An
inventory item's history is on ``oms.inventory.events`` as that release wrote it:
ItemRegistered, then StockReceived version 1 for 2 cases. The engine's inventory
processor rebuilds the partition through the EventLog: Avro resolves the old writer's
schema and ``upcast_v1_v2`` turns 2 cases into 24 units. An order for 20 units can only
be reserved if that happened (2 units without the upcaster would reject it); the stock
view the order saga sources from reads the same events through the same path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from oms_events import eventlog, topics
from oms_events.domain.inventory import InventoryItem
from oms_events.engine.runner import Engine
from oms_events.kafka.connection import producer
from oms_events.settings import Settings
from tests.evolution import CASE, evolve, evolved_codec, v1_value
from tests.integration.engine.harness import (
    engine_settings,
    light,
    order_outcomes,
    place_order,
    publish_orders,
    read_topic,
    wait_for,
)


def test_an_old_event_version_is_upcast_on_rebuild_and_the_item_takes_a_command(
    isolated: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    evolve(monkeypatch)
    codec, v1 = evolved_codec(tmp_path)
    settings = light(isolated, partitions=1)

    # The item's history as the previous release left it on the topic.
    item = InventoryItem.register("TEA", "SH")
    item.receive(1, "placeholder: replaced by the v1 record below")
    registered, received = item.collect_events()
    old = v1_value(v1, {**received.__dict__, "quantity": 2})
    _, current, headers = eventlog.EventLog(codec).encode(registered)
    p = producer(settings)
    events_topic = topics.name(settings, topics.events("inventory"))
    key = str(item.id).encode()
    p.send(events_topic, key=key, value=current, headers=headers)
    v1_headers = eventlog.headers("inventory", "StockReceived", 2)
    p.send(events_topic, key=key, value=old, headers=v1_headers)
    p.flush()
    p.close()

    engine = Engine(engine_settings(settings), only=("inventory", "order"), codec=codec)
    engine.start()
    try:
        assert wait_for(lambda: engine.stock.available("TEA", "SH") == 2 * CASE, 60, 0.2)
        order = place_order("UP-1", "TEA", quantity=20)
        publish_orders(settings, [order])

        # Placed first, decided a hop later (the inventory's answer): wait for the decision.
        def decided() -> bool:
            return order_outcomes(settings).get(order.key, "placed") != "placed"

        assert wait_for(decided, 60, 0.5)
        assert order_outcomes(settings)[order.key] == "OrderAllocated"
    finally:
        engine.stop()
    assert not engine.failed()
    log = eventlog.EventLog(codec)
    inventory = [
        e for e in map(log.record, read_topic(settings, events_topic)) if e.originator_id == item.id
    ]
    assert [e.name for e in inventory] == ["ItemRegistered", "StockReceived", "StockReserved"]
    assert inventory[1].payload["quantity"] == 2 * CASE  # every reader sees it upcast
    assert inventory[2].originator_version == 3 and inventory[2].payload["quantity"] == 20
