"""Pinduoduo and Douyin end to end on the real Kafka and PostgreSQL: each platform's
order, as its API answers it, goes through its adapter to a PlaceOrder, through the
engine to an OrderPlaced that keeps the receiver marked masked, and into the order
tracking projection with the platform's total."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from consumers import tracking
from psycopg import sql

from oms_events.engine.runner import Engine
from oms_events.intake.model import order_id
from oms_events.projection.migrate import migrate
from oms_events.projection.runner import Runner, connect
from oms_events.settings import Settings
from tests.integration.engine.harness import engine_settings, light, read_events
from tests.integration.intake.conftest import FIXTURES, make_topics, run_adapter, send, wait_for

PDD = ("pdd", "241130-512345678901234", "order_info_241130-512345678901234.json", 30000)
DOUYIN = ("douyin", "6921234567890123456", "order_detail_6921234567890123456.json", 29600)


def test_pdd_and_douyin_orders_are_placed_and_projected(
    isolated: Settings, pg: psycopg.Connection[Any]
) -> None:
    settings = light(isolated, partitions=1)
    for channel, external, name, _ in (PDD, DOUYIN):
        make_topics(settings, channel)
        send(settings, channel, [(external, (FIXTURES / channel / name).read_bytes())])
    run_adapter(settings, "pdd", commands=1, letters=0)
    run_adapter(settings, "douyin", commands=2, letters=0)

    ids = {str(order_id(c, e)): (c, total) for c, e, _, total in (PDD, DOUYIN)}
    engine = Engine(engine_settings(settings))
    engine.start()
    placed: dict[str, dict[str, Any]] = {}
    try:

        def both_placed() -> bool:
            for e in read_events(settings, "order"):
                if e.name == "OrderPlaced":
                    placed[str(e.originator_id)] = e.payload
            return set(ids) <= set(placed)

        wait_for(both_placed, 60)
    finally:
        engine.stop()
    assert not engine.failed()
    for oid, (channel, _) in ids.items():
        assert placed[oid]["channel"] == channel
        assert placed[oid]["receiver_masked"] is True  # encrypted receivers, kept marked

    schema = f"t_{uuid.uuid4().hex[:10]}"
    try:
        with connect(settings.postgres.dsn, schema, "test-platforms") as conn:
            migrate(conn, schema, [tracking.PROJECTION])
            runner = Runner(settings, tracking.PROJECTION, conn, batch_size=50, max_wait=0.1)
            rows: dict[str, tuple[str, int, bool]] = {}
            try:

                def projected() -> bool:
                    runner.step()
                    found = pg.execute(
                        sql.SQL(
                            "SELECT order_id, channel, order_total, receiver_masked FROM {}"
                        ).format(sql.Identifier(schema, "order_tracking"))
                    ).fetchall()
                    pg.rollback()
                    rows.update({str(r[0]): (r[1], r[2], r[3]) for r in found})
                    return set(ids) <= set(rows)

                wait_for(projected, 60, 0.2)
            finally:
                runner.close()
        # The platform's total, and the receiver still marked masked for the operators.
        assert {oid: rows[oid] for oid in ids} == {o: (*v, True) for o, v in ids.items()}
    finally:
        pg.rollback()
        with psycopg.connect(settings.postgres.dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )
