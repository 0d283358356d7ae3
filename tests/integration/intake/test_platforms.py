"""Pinduoduo and Douyin end to end on the real Kafka and PostgreSQL: each platform's
order, as its API answers it, goes through its adapter to a PlaceOrder, through the
engine to an OrderPlaced that keeps the receiver marked masked, past the decrypt desk
(Pinduoduo's sandbox decrypts its receiver: ReceiverRevealed; Douyin's refuses: the
order is held as receiver.decrypt_failed), and into the order tracking projection with
the platform's total."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import httpx
import psycopg
from consumers import tracking
from psycopg import sql

from oms_events.engine.processor import Processor
from oms_events.engine.runner import Engine
from oms_events.intake.model import order_id
from oms_events.intake.pull.decrypt import DecryptService
from oms_events.intake.pull.platforms import Credentials
from oms_events.intake.pull.sandbox import PlatformSandbox
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
    # No stock here: the orders wait as pre-orders (not rejected), open to the desk.
    engine = Engine(engine_settings(settings, workflow='{"on_shortage": "preorder"}'))
    engine.start()
    placed: dict[str, dict[str, Any]] = {}
    try:

        def both_placed() -> bool:
            for e in read_events(settings, "order"):
                if e.name == "OrderPlaced":
                    placed[str(e.originator_id)] = e.payload
            return set(ids) <= set(placed)

        wait_for(both_placed, 60)
        for oid, (channel, _) in ids.items():
            assert placed[oid]["channel"] == channel
            assert placed[oid]["receiver_masked"] is True  # encrypted receivers, kept marked

        # The decrypt desk: the Pinduoduo sandbox knows the order's ciphertexts, the
        # Douyin one does not.
        box = PlatformSandbox(Credentials("app", "secret", "session"))
        pdd_order = json.loads((FIXTURES / "pdd" / PDD[2]).read_bytes())
        info = pdd_order["order_info_get_response"]["order_info"]
        box.plain |= {
            info["receiver_name"]: "林黛玉",
            info["receiver_phone"]: "15912343721",
            info["receiver_address"]: "文三路 90 号",
        }
        url = box.start()
        stop = threading.Event()
        desk = DecryptService(
            settings, Credentials("app", "secret", "session"), httpx.Client(base_url=url)
        )
        loop = Processor(desk, engine_settings(settings), desk.codec, stop, step=desk.step)
        loop.start()
        seen: set[tuple[str, str]] = set()
        try:

            def decided() -> bool:
                seen.update(
                    (str(e.originator_id), e.name)
                    for e in read_events(settings, "order")
                    if e.name in ("ReceiverRevealed", "OrderHeld")
                )
                return len(seen) == 2

            wait_for(decided, 60)
        finally:
            stop.set()
            loop.join(30)
            box.close()
        assert loop.error is None
        pdd_id, douyin_id = (str(order_id(c, e)) for c, e, _, _ in (PDD, DOUYIN))
        assert seen == {(pdd_id, "ReceiverRevealed"), (douyin_id, "OrderHeld")}
    finally:
        engine.stop()
    assert not engine.failed()

    schema = f"t_{uuid.uuid4().hex[:10]}"
    try:
        with connect(settings.postgres.dsn, schema, "test-platforms") as conn:
            migrate(conn, schema, [tracking.PROJECTION])
            runner = Runner(settings, tracking.PROJECTION, conn, batch_size=50, max_wait=0.1)
            rows: dict[str, tuple[str, int, bool, str]] = {}
            try:

                def projected() -> bool:
                    runner.step()
                    found = pg.execute(
                        sql.SQL(
                            "SELECT order_id, channel, order_total, receiver_masked, phone FROM {}"
                        ).format(sql.Identifier(schema, "order_tracking"))
                    ).fetchall()
                    pg.rollback()
                    rows.update({str(r[0]): (r[1], r[2], r[3], r[4]) for r in found})
                    return set(ids) <= set(rows) and not rows[pdd_id][2]

                wait_for(projected, 60, 0.2)
            finally:
                runner.close()
        # The platform's total; the decrypted receiver in clear, the other still marked.
        assert rows[pdd_id] == ("pdd", PDD[3], False, "15912343721")
        assert rows[douyin_id][:3] == ("douyin", DOUYIN[3], True)
    finally:
        pg.rollback()
        with psycopg.connect(settings.postgres.dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )
