"""A row a table cannot hold (a stock level past bigint, written by a client that knew
no limit) is dead-lettered alone; the next good record is applied and the projection
goes on, on the real Kafka and PostgreSQL."""

from __future__ import annotations

import psycopg
from consumers import inventory

from oms_events import deadletter, topics
from oms_events.domain import InventoryItem
from oms_events.projection.migrate import migrate
from oms_events.projection.runner import Runner, connect
from oms_events.settings import Settings
from tests.integration.intake.conftest import read
from tests.integration.projections import world as w


def test_an_overflowing_stock_level_is_dead_lettered_and_the_next_record_applied(
    topics_ready: Settings, schema: str, pg: psycopg.Connection
) -> None:
    settings = topics_ready
    poisoned = InventoryItem.register("SKU-POISON", "WH-SH", low_stock_threshold=1)
    # The domain now refuses this (limits.MAX_UNITS); an older writer did not. Its event
    # method is called directly to forge what such a writer left on the log: twice 2^62
    # units is 2^63, one past bigint.
    poisoned._received(quantity=2**62, reason="bad import")
    poisoned._received(quantity=2**62, reason="bad import")
    good = InventoryItem.register("SKU-GOOD", "WH-SH", low_stock_threshold=1)
    good.receive(7, "purchase order")
    w.produce(settings, [*poisoned.collect_events(), *good.collect_events()])

    with connect(settings.postgres.dsn, schema, "test-poison") as conn:
        migrate(conn, schema, [inventory.PROJECTION])
        runner = Runner(settings, inventory.PROJECTION, conn, batch_size=50, max_wait=0.1)
        try:
            runner.catch_up()
        finally:
            runner.close()
        levels = dict(conn.execute("SELECT sku, on_hand FROM inventory_level").fetchall())
    assert levels.get("SKU-GOOD") == 7
    refused = [deadletter.read(r.headers) for r in read(settings, topics.DEADLETTER)]
    assert [letter.processor for letter in refused] == ["projection.inventory"]
    assert "out of range" in refused[0].reason.en
