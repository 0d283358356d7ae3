"""One dead-letter contract, end to end: bad records refused by the real intake adapter,
the real engine and the real projection runner land in the exceptions projection with
their code, field and message (and who refused them), on the real Kafka and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import psycopg
from consumers import exceptions
from psycopg import sql

from oms_events import topics
from oms_events.engine.runner import Engine
from oms_events.intake.adapter import ChannelAdapter
from oms_events.kafka.connection import producer
from oms_events.projection.migrate import migrate
from oms_events.projection.rowcache import RowCache
from oms_events.projection.runner import Runner, connect
from oms_events.projection.spec import Projection, Record
from oms_events.settings import Settings
from tests.integration.engine.harness import engine_settings, light
from tests.integration.intake.conftest import FIXTURES, make_topics, read, send, wait_for
from tests.integration.projections import world as w


def needs_a_field_orders_lack(
    conn: psycopg.Connection[Any], records: Sequence[Record], cache: RowCache
) -> None:
    """A projection written against a payload field OrderPlaced does not have: every
    OrderPlaced fails to fold (as a projection bug or an unexpected event would)."""
    for r in records:
        r.payload["gift_wrap"]  # type: ignore[union-attr]


STRICT = Projection(
    name="strict",
    topics=(topics.events("order"),),
    group="oms-projection-strict",
    migrations=(),
    events=frozenset({"OrderPlaced"}),
    write=needs_a_field_orders_lack,
)


def letters(settings: Settings) -> int:
    return len(read(settings, topics.DEADLETTER))


def intake_refuses_a_delivery(settings: Settings) -> None:
    make_topics(settings, "tmall")
    send(
        settings,
        "tmall",
        [("3891234567890123402", (FIXTURES / "tmall/bad_phone.json").read_bytes())],
    )
    stop = threading.Event()
    adapter = ChannelAdapter(settings, "tmall", stop=stop)
    thread = threading.Thread(target=adapter.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: letters(settings) >= 1)
    finally:
        stop.set()
        thread.join(timeout=20)


def engine_refuses_a_command(settings: Settings) -> None:
    engine = Engine(engine_settings(settings))
    engine.start()
    try:
        p = producer(settings)
        p.send(topics.name(settings, topics.commands("order")), key=b"B1", value=b"\x00garbage")
        p.flush()
        p.close()
        wait_for(lambda: letters(settings) >= 2, 60)
    finally:
        engine.stop()
    assert not engine.failed()


def undecodable_event(settings: Settings) -> None:
    # Bytes on an events topic that claim to be an OrderPlaced but decode as nothing.
    p = producer(settings)
    p.send(
        topics.name(settings, topics.events("order")),
        key=b"O1",
        value=b"\xc3\x01garbage!",
        headers=[("event", b"OrderPlaced"), ("aggregate", b"order"), ("version", b"1")],
    )
    p.flush()
    p.close()


def test_every_writer_dead_letters_with_code_field_and_message(
    isolated: Settings, schema: str, pg: psycopg.Connection
) -> None:
    settings = light(isolated, partitions=1)
    intake_refuses_a_delivery(settings)
    engine_refuses_a_command(settings)
    undecodable_event(settings)
    w.produce(settings, w.build(1, seed=3).events)  # one good OrderPlaced for "strict"

    with connect(settings.postgres.dsn, schema, "test-dead-letters") as conn:
        migrate(conn, schema, [exceptions.PROJECTION])
        runners = [
            Runner(settings, exceptions.PROJECTION, conn, batch_size=50, max_wait=0.1),
            Runner(settings, STRICT, conn, batch_size=50, max_wait=0.1),
        ]
        wanted = {"intake", "engine.order", "projection.exceptions", "projection.strict"}
        deadline = time.monotonic() + 60
        try:
            while True:
                for runner in runners:
                    runner.step()
                rows = pg.execute(
                    sql.SQL(
                        "SELECT processor, code, field, message, message_zh, error_class,"
                        " source_topic, source_offset FROM {}.exception WHERE kind = 'dead_letter'"
                    ).format(sql.Identifier(schema))
                ).fetchall()
                pg.rollback()
                if wanted <= {r[0] for r in rows} or time.monotonic() > deadline:
                    break
            # The projections moved on: no refused record holds them back.
            assert [r.lag() for r in runners] == [0, 0]
        finally:
            for runner in runners:
                runner.close()

    by = {(r[0], r[1]): r for r in rows}
    assert {r[0] for r in rows} >= wanted, rows
    for row in rows:
        _, code, field, message, message_zh, error_class, source_topic, offset = row
        assert code and field and message and message_zh and error_class, row
        assert source_topic.startswith(settings.kafka.topic_prefix) and offset >= 0, row
    assert by[("intake", "intake.bad_phone")][2] == "receiver_mobile"
    assert by[("engine.order", "decode.error")][2] == "$"
    assert by[("projection.exceptions", "projection.decode")][6].endswith("oms.order.events")
    fold = by[("projection.strict", "projection.fold")]
    assert (fold[2], fold[5]) == ("gift_wrap", "KeyError")
