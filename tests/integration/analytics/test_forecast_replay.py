"""A replay of the inventory projection swaps its tables but keeps the computed
demand_forecast, and low_stock (a view across both, projections/views/) comes back
reading the rebuilt stock. No engine: the rebuilt schema is filled with SQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg import sql

from oms_events.projection.migrate import migrate
from oms_events.projection.registry import select
from oms_events.projection.replay import swap_in
from oms_events.projection.runner import connect
from oms_events.settings import Settings

AT = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
LEVEL = (
    "INSERT INTO inventory_level (item_id, sku, location, on_hand, reserved, "
    "low_stock_threshold, version, updated_at) VALUES (%s, 'TEA', 'WH-SH', %s, 0, 10, 1, %s)"
)


@pytest.fixture
def live(dev_services: Settings) -> Iterator[psycopg.Connection[Any]]:
    schema = f"t_fcreplay_{uuid.uuid4().hex[:8]}"
    with connect(dev_services.postgres.dsn, schema, "test-forecast-replay") as conn:
        migrate(conn, schema, select([]))
        try:
            yield conn
        finally:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def test_a_replay_keeps_the_forecast_and_low_stock_shows_the_rebuilt_stock(
    live: psycopg.Connection[Any],
) -> None:
    schema = live.execute("SELECT current_schema()").fetchone()[0]  # type: ignore[index]
    live.execute(LEVEL, (uuid.uuid4(), 8, AT))
    live.execute(
        "INSERT INTO demand_forecast VALUES ('TEA', 'WH-SH', 'holt-winters', 6.4, 7, 45, 50, "
        "8, 0, 87, %s)",
        (AT,),
    )
    build = f"{schema}__build"
    (inventory,) = select(["inventory"])
    migrate(live, build, [inventory])
    live.execute(LEVEL, (uuid.uuid4(), 3, AT))  # the rebuilt stock: 3 on hand
    swap_in(live, inventory, build, schema)
    live.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    assert live.execute(
        "SELECT available, suggested_replenishment, forecast_at FROM low_stock"
    ).fetchall() == [(3, 87, AT)]
