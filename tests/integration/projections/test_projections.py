"""The four projections against real Kafka and PostgreSQL: rows, guards, replay, time travel."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from oms_events import resources
from oms_events.projection.migrate import migrate, migrate_as_owner
from oms_events.projection.registry import select
from oms_events.projection.replay import as_of_schema, rebuild
from oms_events.projection.runner import Runner, connect
from oms_events.projection.status import lags, render_prometheus
from oms_events.settings import Settings
from tests.integration.projections import world as w


def run_all(settings: Settings, schema: str, runtime_dsn: str) -> None:
    """Every projection caught up to the end of its topics in ``schema``, as `oms project`
    applies them: tables made by the migrator, rows written by the run-time role."""
    for p in select([]):
        migrate_as_owner(settings, schema, [p])
        with connect(runtime_dsn, schema, f"test-{p.name}", create=False) as conn:
            runner = Runner(settings, p, conn, batch_size=700)
            try:
                runner.catch_up()
            finally:
                runner.close()


def table(conn: psycopg.Connection[Any], schema: str, name: str) -> list[tuple[Any, ...]]:
    q = sql.SQL("SELECT * FROM {}.{} ORDER BY 1, 2").format(
        sql.Identifier(schema), sql.Identifier(name)
    )
    return conn.execute(q).fetchall()


def test_every_projection_column_is_documented(pg: psycopg.Connection, schema: str) -> None:
    migrate(pg, schema, select([]))
    again = migrate(pg, schema, select([]))
    assert len(again) == len(list(resources.sql().glob("*.sql")))  # every file is someone's
    assert not any(a.applied for a in again)  # idempotent
    undocumented = pg.execute(
        "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'v') AND a.attnum > 0 "
        "AND NOT a.attisdropped AND col_description(c.oid, a.attnum) IS NULL",
        (schema,),
    ).fetchall()
    assert undocumented == []
    tables = pg.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'v') AND obj_description(c.oid) IS NULL",
        (schema,),
    ).fetchall()
    assert tables == []


def test_projections_match_the_aggregates_and_survive_replays(
    topics_ready: Settings, pg: psycopg.Connection, schema: str, runtime_dsn: str
) -> None:
    world = w.build(120)
    w.produce(topics_ready, world.events)
    w.produce_dead_letters(topics_ready, 4)
    run_all(topics_ready, schema, runtime_dsn)

    levels = {
        (r[0], r[1]): (r[2], r[3], r[4])
        for r in pg.execute(
            sql.SQL(
                "SELECT sku, location, on_hand, reserved, available FROM {}.inventory_level"
            ).format(sql.Identifier(schema))
        )
    }
    assert levels == {k: (i.on_hand, i.reserved, i.available) for k, i in world.items.items()}
    statuses = dict(
        pg.execute(
            sql.SQL("SELECT order_no, status FROM {}.order_tracking").format(sql.Identifier(schema))
        ).fetchall()
    )
    assert statuses == {o.order_no: o.status.value for o in world.orders}
    totals = dict(
        pg.execute(
            sql.SQL("SELECT order_no, order_total FROM {}.order_tracking").format(
                sql.Identifier(schema)
            )
        ).fetchall()
    )
    assert totals == {o.order_no: o.total.amount for o in world.orders}
    kinds = Counter(
        k
        for (k,) in pg.execute(
            sql.SQL("SELECT kind FROM {}.exception").format(sql.Identifier(schema))
        )
    )
    names = Counter(type(e).__name__ for e in world.events)
    assert kinds["reservation_rejected"] == names["ReservationRejected"] > 0
    assert kinds["order_rejected"] == names["OrderRejected"]
    assert kinds["delivery_failed"] == names["DeliveryFailed"]
    assert kinds["dead_letter"] == 4
    timeline = pg.execute(
        sql.SQL("SELECT count(*) FROM {}.order_timeline").format(sql.Identifier(schema))
    ).fetchone()
    assert timeline == (
        sum(1 for e in world.events if type(e).__qualname__.split(".")[0] in ("Order", "Shipment")),
    )

    # Applying every event a second time changes nothing (version guards).
    before = {
        t: table(pg, schema, t)
        for t in ("inventory_level", "order_tracking", "order_line", "fact_order_line", "exception")
    }
    pg.execute(
        sql.SQL("UPDATE {}.projection_offset SET next_offset = 0").format(sql.Identifier(schema))
    )
    pg.commit()
    run_all(topics_ready, schema, runtime_dsn)
    assert {t: table(pg, schema, t) for t in before} == before

    # Status: nothing left to read; Prometheus text says the same.
    rows = lags(topics_ready, pg, schema, select([]))
    assert rows and all(r.lag == 0 for r in rows)
    assert 'oms_projection_lag_records{projection="inventory"' in render_prometheus(rows)

    # Time travel: only what had happened at T.
    cut = datetime.now(UTC)
    time.sleep(0.01)
    extra = w.build(20, seed=8)
    w.produce(topics_ready, extra.events)
    pg.commit()
    asof = rebuild(topics_ready, select(["tracking"])[0], schema + "_asof", as_of=cut)
    count = pg.execute(
        sql.SQL("SELECT count(*) FROM {}.order_tracking").format(sql.Identifier(asof.schema))
    ).fetchone()
    assert count == (len(world.orders),)
    assert as_of_schema(cut).startswith("asof_")

    # Replay swaps a rebuilt copy in; the rebuilt rows equal the live ones caught up.
    run_all(topics_ready, schema, runtime_dsn)
    live = table(pg, schema, "fact_order_line")
    sales = sorted(pg.execute(f"SELECT * FROM {schema}.daily_sales").fetchall())
    pg.commit()  # a reader's open transaction would hold the swap back (as it should)
    result = rebuild(topics_ready, select(["analytics"])[0], schema)
    assert result.events > 0
    assert table(pg, schema, "fact_order_line") == live
    # The daily views (business days, 015) survive the swap and answer the same.
    assert sorted(pg.execute(f"SELECT * FROM {schema}.daily_sales").fetchall()) == sales
    assert sales
    assert len(live) == sum(len(o.lines) for o in world.orders + extra.orders)
    # A replay of returns leaves the analytics fact alone, and the view across the two
    # (projections/views/) is there after either swap.
    pg.commit()
    rebuild(topics_ready, select(["returns"])[0], schema)
    assert table(pg, schema, "fact_order_line") == live
    rates = f"SELECT count(*) FROM {schema}.return_reason_rate"
    assert pg.execute(rates).fetchone() is not None
