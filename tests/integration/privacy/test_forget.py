"""Personal data on the real broker and database (issue 18): two web customers' orders go
through the web adapter, the engine and the projections; every topic read raw holds
their names, phones and addresses only in the raw intake topic (bounded retention);
``oms customer forget`` then leaves no trace of the one forgotten in a replay of their
order, in the projection tables or in its own log, while the other stays readable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql

from oms_events import topics
from oms_events.avro.codec import SingleObjectCodec
from oms_events.avro.registry import codec_from_settings
from oms_events.domain.ids import natural_id
from oms_events.engine.partition import Partition
from oms_events.engine.records import CommandWriter
from oms_events.eventlog import EventLog
from oms_events.intake.adapter import ChannelAdapter
from oms_events.kafka.connection import admin, producer
from oms_events.kafka.security import environment as kafka_environment
from oms_events.privacy.keystore import KeyStore
from oms_events.privacy.vault import Vault
from oms_events.projection.migrate import migrate
from oms_events.projection.registry import select
from oms_events.projection.runner import Runner, connect
from oms_events.settings import Settings
from tests.integration.engine.harness import (
    ROOT,
    EngineWorld,
    engine_world,
    light,
    read_topic,
    wait_for,
)
from tests.integration.intake.conftest import FIXTURES
from tests.unit.engine.flow import place

# The web shop's variants 4401 and 4402, as the intake's tables map them.
STOCK = {("SKU-TEA-001", "SH"): 10, ("SKU-MUG-001", "SH"): 10}
# What each customer told the web shop (order_1001.json, and a second customer's copy):
# none of it may be readable on Kafka outside the raw intake topic.
LI_LEI = ("李雷", "13800138000", "文三路", "华星科技大厦", "li.lei@example.com")
HAN_MEIMEI = ("韩梅梅", "13900139000", "南京东路", "han.meimei@example.com")


def _second_customer() -> bytes:
    doc = json.loads((FIXTURES / "web" / "order_1001.json").read_text())
    doc.update(id=5712345678902, name="#1002", email=HAN_MEIMEI[3])
    doc["customer"].update(id=6123456789002, email=HAN_MEIMEI[3], phone="+8613900139000")
    doc["customer"].update(first_name="梅梅", last_name="韩")
    doc["shipping_address"].update(
        first_name="梅梅",
        last_name="韩",
        name="韩梅梅",
        address1="南京东路 100 号",
        address2="",
        city="上海市",
        province="上海市",
        zip="200001",
        phone="+86 139-0013-9000",
    )
    return json.dumps(doc, ensure_ascii=False).encode()


@dataclass(frozen=True)
class World:
    settings: Settings
    schema: str
    keys: str


@pytest.fixture(scope="module")
def world(dev_services: Settings) -> Iterator[World]:
    """The engine, the web adapter and the projections that hold personal data, on their
    own topics, projection schema and key store; both customers' orders projected."""
    keys = f"t_keys_{uuid.uuid4().hex[:8]}"
    settings = light(
        dev_services.replace(
            kafka={"topic_prefix": f"t{uuid.uuid4().hex[:8]}."}, privacy={"schema_name": keys}
        ),
        partitions=2,
    )
    stop = threading.Event()
    adapter = ChannelAdapter(settings, "web", stop=stop)
    thread = threading.Thread(target=adapter.run, daemon=True)
    thread.start()
    try:
        with engine_world(settings, STOCK, ["tracking", "warehouse", "notifications"]) as w:
            p = producer(settings)
            for external_id, raw in (
                ("5712345678901", (FIXTURES / "web" / "order_1001.json").read_bytes()),
                ("5712345678902", _second_customer()),
            ):
                p.send(
                    topics.name(settings, topics.intake("web")), key=external_id.encode(), value=raw
                )
            p.flush()
            p.close()
            assert wait_for(lambda: len(_allocated(w)) == 2, 90, 0.5), _allocated(w)
            yield World(settings, w.schema, keys)
    finally:
        stop.set()
        thread.join(timeout=20)
        with psycopg.connect(settings.postgres.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(keys)))


def _allocated(w: EngineWorld) -> list[Any]:
    with psycopg.connect(w.settings.postgres.dsn) as conn:
        table = sql.Identifier(w.schema, "order_tracking")
        query = sql.SQL("SELECT order_id FROM {} WHERE status = 'allocated'").format(table)
        try:
            return conn.execute(query).fetchall()
        except psycopg.errors.UndefinedTable:
            return []


def _every_topic(settings: Settings) -> list[str]:
    client = admin(settings)
    try:
        return sorted(n for n in client.list_topics() if n.startswith(settings.kafka.topic_prefix))
    finally:
        client.close()


def _raw(settings: Settings, topic: str) -> bytes:
    """Every key, value and header of ``topic``, all partitions, uncommitted too."""
    out = bytearray()
    for r in read_topic(settings, topic, isolation_level="read_uncommitted"):
        out += (r.key or b"") + (r.value or b"")
        for k, v in r.headers or []:
            out += k.encode() + (v or b"")
    return bytes(out)


def _tables(w: World) -> str:
    """Every row of every table of the projection schema, as text."""
    with psycopg.connect(w.settings.postgres.dsn) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = %s AND table_type = 'BASE TABLE'",
                (w.schema,),
            )
        ]
        rows = []
        for name in names:
            table = sql.Identifier(w.schema, name)
            rows += [r[0] for r in conn.execute(sql.SQL("SELECT t::text FROM {} t").format(table))]
    return "\n".join(rows)


def test_no_topic_but_the_raw_intake_holds_a_name_phone_or_address(world: World) -> None:
    intake = topics.name(world.settings, topics.intake("web"))
    seen = {topic: _raw(world.settings, topic) for topic in _every_topic(world.settings)}
    assert any(len(v) for t, v in seen.items() if t.endswith(".oms.allocations")), "no allocation"
    for topic, data in seen.items():
        found = [s for s in LI_LEI + HAN_MEIMEI if s.encode() in data]
        assert found == [] or topic == intake, f"{topic} holds {found}"
    # ... which is kept for a bounded time only (README, "Personal data").
    [spec] = [s for s in topics.registry(world.settings) if s.name == intake]
    assert int(spec.config["retention.ms"]) == 7 * 86_400_000
    # The key store names customers by HMAC only.
    with psycopg.connect(world.settings.postgres.dsn) as conn:
        rows = conn.execute(
            sql.SQL("SELECT t::text FROM {} t").format(sql.Identifier(world.keys, "customer_order"))
        ).fetchall()
    assert len(rows) >= 2 and not any(s in r[0] for s in LI_LEI + HAN_MEIMEI for r in rows)
    # One key per order (the intake's batch made them; the engine's batches found them),
    # and each order's shipment linked to it.
    with psycopg.connect(world.settings.postgres.dsn) as conn:
        keyed = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(world.keys, "order_key"))
        ).fetchone()
        aliased = conn.execute(
            sql.SQL("SELECT count(DISTINCT order_id) FROM {}").format(
                sql.Identifier(world.keys, "order_alias")
            )
        ).fetchone()
    assert keyed == (2,) and aliased == (2,)
    # ... and the analysts' role reads none of it.
    with (
        psycopg.connect(world.settings.postgres.analyst_dsn) as analyst,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        analyst.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(world.keys, "order_key"))
        )


def test_two_processes_racing_for_an_order_key_commit_records_under_one(world: World) -> None:
    """Each seals a new order in its own transaction's batch; the second to flush loses
    the race and seals its records again with the key the first stored (issue 13)."""
    keys = f"t_keys_{uuid.uuid4().hex[:8]}"  # its own store: the world's counts stay
    settings = world.settings.replace(privacy={"schema_name": keys})
    first, second = KeyStore(settings), KeyStore(settings)
    try:
        a, b = Vault(SingleObjectCodec(), first), Vault(SingleObjectCodec(), second)
        a.begin([])
        b.begin([])
        ours = CommandWriter(settings, a).record(place("RACE-PG-1"))
        theirs = CommandWriter(settings, b).record(place("RACE-PG-1"))
        [sent_a] = a.settle([ours])
        [sent_b] = b.settle([theirs])
        assert sent_a == ours and sent_b.value != theirs.value  # b sealed again
        # Whoever reads the store opens both, with the one key it holds.
        reader = KeyStore(settings)
        try:
            for sent in (sent_a, sent_b):
                assert sent.value is not None
                _, opened = Vault(SingleObjectCodec(), reader).decode(sent.value)
                assert opened["customer"]["name"] == "张三"
        finally:
            reader.close()
        # A forgotten order this process has not seen is written redacted, not re-keyed.
        gone = natural_id("order", "web", "RACE-PG-2")
        with psycopg.connect(settings.postgres.dsn, autocommit=True) as conn:
            table = sql.Identifier(keys, "order_key")
            conn.execute(
                sql.SQL("INSERT INTO {} (order_id, wrapped_key) VALUES (%s, NULL)").format(table),
                (gone,),
            )
        b.begin([])
        [late] = b.settle([CommandWriter(settings, b).record(place("RACE-PG-2"))])
        assert late.value is not None
        assert SingleObjectCodec().decode(late.value)[1]["customer"]["name"] == "[forgotten]"
    finally:
        first.close()
        second.close()
        with psycopg.connect(settings.postgres.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(keys)))


def test_a_forgotten_customer_is_gone_from_replays_tables_and_logs(world: World) -> None:
    before = _tables(world)
    assert all(s in before for s in ("李雷", "文三路", "韩梅梅", "南京东路"))
    env = {
        **os.environ,
        "OMS_KAFKA_BOOTSTRAP_SERVERS": world.settings.kafka.bootstrap_servers,
        "OMS_KAFKA_TOPIC_PREFIX": world.settings.kafka.topic_prefix,
        **kafka_environment(world.settings),
        "OMS_POSTGRES_DSN": world.settings.postgres.dsn,
        "OMS_PROJECTIONS_SCHEMA_NAME": world.schema,
        "OMS_PRIVACY_SCHEMA_NAME": world.keys,
        "OMS_LOG_FORMAT": "json",
    }
    done = subprocess.run(
        [sys.executable, "-m", "oms_events.cli.main", "customer", "forget", "13800138000"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "1 orders forgotten" in done.stdout and "已遗忘 1 个订单" in done.stdout
    assert "13800138000" not in done.stdout + done.stderr
    assert "138****8000" in done.stdout and "138****8000" in done.stderr  # output, log

    after = _tables(world)
    assert [s for s in LI_LEI if s in after] == []
    assert all(s in after for s in ("韩梅梅", "南京东路"))  # the other customer stays

    # A replay of the forgotten customer's order, from the topics as they are.
    log = EventLog(codec_from_settings(world.settings), settings=world.settings)
    events = [
        log.record(r)
        for r in read_topic(world.settings, topics.name(world.settings, topics.events("order")))
    ]
    orders = Partition(0)
    for e in events:
        orders.apply(log.to_domain_event(e), None)
    by_name = {o.customer.name: o for o in orders.aggregates.values()}  # type: ignore[attr-defined]
    assert set(by_name) == {"[forgotten]", "韩梅梅"}, set(by_name)
    forgotten = by_name["[forgotten]"]
    assert forgotten.customer.phone == "[forgotten]"
    assert forgotten.address.line1 == "[forgotten]"
    assert forgotten.address.city == "杭州市"  # the region stays for analytics
    shown = repr([e.payload for e in events])
    assert [s for s in LI_LEI if s in shown] == [] and "韩梅梅" in shown

    # The projections rebuilt from the topics (as `oms replay` does) write the redaction.
    rebuilt = f"t_{uuid.uuid4().hex[:10]}"
    try:
        for p in select(["tracking", "warehouse", "notifications"]):
            with connect(world.settings.postgres.dsn, rebuilt, f"test-{p.name}") as conn:
                migrate(conn, rebuilt, [p])
                runner = Runner(world.settings, p, conn, batch_size=500)
                try:
                    runner.catch_up()
                finally:
                    runner.close()
        again = _tables(World(world.settings, rebuilt, world.keys))
    finally:
        with psycopg.connect(world.settings.postgres.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(rebuilt)))
    assert [s for s in LI_LEI if s in again] == [] and "[forgotten]" in again
    assert all(s in again for s in ("韩梅梅", "南京东路"))
