"""Stock administration on the real Kafka and PostgreSQL: an operator receives, adjusts,
counts, transfers and sets a threshold (each answered by the engine, a refusal with its
reason), orders push an item below its threshold, and the stock ledger accounts for
every unit of every inventory_level row."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from consumers.inventory import PROJECTION
from psycopg import sql

from oms_events.analytics.forecast import suggestions
from oms_events.answers import Answer, send_and_wait
from oms_events.engine.commands import (
    AdjustStock,
    Command,
    CountStock,
    ReceiveStock,
    SetThreshold,
    TransferStock,
)
from oms_events.engine.runner import Engine
from oms_events.projection.migrate import migrate
from oms_events.projection.runner import Runner, connect
from oms_events.settings import Settings
from tests.integration.conftest import drop_topics
from tests.integration.engine.harness import (
    CODEC,
    engine_settings,
    light,
    place_order,
    publish_orders,
    read_events,
    wait_for,
)

# Every item's ledger sums to its level: on hand, reserved and in transit alike.
LEDGER_MISMATCHES = """
SELECT l.sku, l.location, l.on_hand, l.reserved, l.in_transit, s.*
FROM inventory_level l
LEFT JOIN (
    SELECT item_id, sum(on_hand_delta) AS on_hand, sum(reserved_delta) AS reserved,
           sum(in_transit_delta) AS in_transit
    FROM stock_ledger GROUP BY item_id
) s USING (item_id)
WHERE (l.on_hand, l.reserved, l.in_transit)
      IS DISTINCT FROM (coalesce(s.on_hand, 0), coalesce(s.reserved, 0), coalesce(s.in_transit, 0))
"""


@pytest.fixture(scope="module")
def world(dev_services: Settings) -> Iterator[tuple[Settings, str]]:
    """Topics of their own, a running inventory + order engine, and a schema."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    settings = light(dev_services.replace(kafka={"topic_prefix": prefix}))
    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = Engine(engine_settings(settings), only=("inventory", "order"))
    engine.start()
    try:
        yield settings, schema
    finally:
        engine.stop()
        assert not engine.failed()
        with psycopg.connect(settings.postgres.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        drop_topics(settings)


def _cid() -> str:
    return str(uuid.uuid4())


def ask(settings: Settings, command: Command) -> Answer:
    answer = send_and_wait(settings, CODEC, command, wait_s=60)
    assert answer is not None, f"no answer to {command.name}"
    return answer


def names(answer: Answer) -> list[str]:
    return [e.name for e in answer.events]


def project(settings: Settings, schema: str) -> psycopg.Connection[Any]:
    """The inventory projection caught up in ``schema``; a connection to read it."""
    conn = connect(settings.postgres.dsn, schema, "test-stock")
    migrate(conn, schema, [PROJECTION])
    runner = Runner(settings, PROJECTION, conn, batch_size=500)
    try:
        runner.catch_up()
    finally:
        runner.close()
    return conn


def oms(settings: Settings, schema: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``oms`` CLI against this test's topics and schema."""
    env = {
        **os.environ,
        "OMS_KAFKA_TOPIC_PREFIX": settings.kafka.topic_prefix,
        "OMS_KAFKA_PARTITIONS": str(settings.kafka.partitions),
        "OMS_POSTGRES_DSN": settings.postgres.dsn,
        "OMS_PROJECTIONS_SCHEMA_NAME": schema,
        "OMS_STOCK_ANSWER_WAIT_S": "60",
        "OMS_LOG_LEVEL": "warning",
        "LANG": "en_US.UTF-8",
    }
    return subprocess.run(
        [sys.executable, "-m", "oms_events.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_an_operator_administers_stock_and_the_ledger_accounts_for_every_unit(
    world: tuple[Settings, str],
) -> None:
    settings, schema = world
    by = {"actor": "li.wei"}

    received = ask(
        settings, ReceiveStock(command_id=_cid(), sku="TEA", location="A", quantity=20, **by)
    )
    assert names(received) == ["ItemRegistered", "StockReceived"]
    adjusted = ask(
        settings,
        AdjustStock(command_id=_cid(), sku="TEA", location="A", delta=-2, reason="damage", **by),
    )
    assert names(adjusted) == ["StockAdjusted"]
    counted = ask(
        settings, CountStock(command_id=_cid(), sku="TEA", location="A", counted=15, **by)
    )
    assert [(e.name, e.payload["delta"]) for e in counted.events] == [("StockCounted", -3)]
    tid = uuid.uuid4()
    sent = ask(
        settings,
        TransferStock(
            command_id=_cid(), sku="TEA", location="A", to_location="B", transfer_id=tid,
            quantity=5, **by,
        ),
    )  # fmt: skip
    assert names(sent) == ["TransferDispatched"]

    # A threshold above what orders will leave: LowStock fires as they reserve.
    ask(settings, ReceiveStock(command_id=_cid(), sku="CUP", location="A", quantity=6, **by))
    low = ask(settings, SetThreshold(command_id=_cid(), sku="CUP", location="A", threshold=4, **by))
    assert names(low) == ["ThresholdSet"]
    publish_orders(settings, [place_order(f"CUP-{n}", "CUP") for n in range(3)])
    assert wait_for(
        lambda: any(
            e.name == "LowStock" and e.payload["available"] == 3
            for e in read_events(settings, "inventory")
        ),
        60,
        0.3,
    )

    # Below what is reserved: refused, and the operator reads why in one line.
    refused = oms(
        settings, schema, "stock", "adjust", "CUP", "A", "--delta", "-5", "--reason", "loss",
        "--by", "li.wei",
    )  # fmt: skip
    assert refused.returncode == 1, refused.stderr
    assert "refused:" in refused.stderr and "3 reserved" in refused.stderr
    assert "stock.adjustment_invalid" in refused.stderr

    # The transfer arrives: the CLI finds its destination in the stock ledger.
    with project(settings, schema) as conn:
        assert conn.execute(
            "SELECT on_hand, in_transit FROM inventory_level WHERE sku = 'TEA' AND location = 'B'"
        ).fetchone() == (0, 5)
        assert conn.execute(
            "SELECT sku, location, available, low_stock_threshold, low_since IS NOT NULL "
            "FROM low_stock"
        ).fetchall() == [("CUP", "A", 3, 4, True)]
        # Nothing shipped yet: CUP needs its safety stock (its threshold, 4) less the 3
        # available; TEA needs nothing (B has 5 on the way).
        wanted = {
            (r["sku"], r["location"]): r["suggested"]
            for r in suggestions(conn, 7, 3, "Asia/Shanghai", 112)
        }
        assert wanted == {("CUP", "A"): 1, ("TEA", "A"): 0, ("TEA", "B"): 0}
    arrived = oms(settings, schema, "stock", "transfer-receive", str(tid), "--by", "wang.fang")
    assert arrived.returncode == 0, arrived.stderr
    assert "TransferReceived" in arrived.stdout
    # Back above the threshold: the low stock clears in the same answer.
    refilled = ask(
        settings, ReceiveStock(command_id=_cid(), sku="CUP", location="A", quantity=5, **by)
    )
    assert names(refilled) == ["StockReceived", "StockReplenished"]

    with project(settings, schema) as conn:
        levels = conn.execute(
            "SELECT sku, location, on_hand, reserved, available, in_transit "
            "FROM inventory_level ORDER BY sku, location"
        ).fetchall()
        assert levels == [
            ("CUP", "A", 11, 3, 8, 0),
            ("TEA", "A", 10, 0, 10, 0),
            ("TEA", "B", 5, 0, 5, 0),
        ]
        assert conn.execute("SELECT count(*) FROM low_stock").fetchone() == (0,)
        assert conn.execute(LEDGER_MISMATCHES).fetchall() == []
        trace = conn.execute(
            "SELECT location, movement, on_hand_delta, in_transit_delta, reason, actor, "
            "event_partition >= 0 AND event_offset >= 0 "
            "FROM stock_ledger WHERE sku = 'TEA' ORDER BY occurred_at, version"
        ).fetchall()
        assert trace == [
            ("A", "received", 20, 0, "receipt", "li.wei", True),
            ("A", "adjusted", -2, 0, "damage", "li.wei", True),
            ("A", "counted", -3, 0, None, "li.wei", True),
            ("A", "transfer_out", -5, 0, None, "li.wei", True),
            ("B", "transfer_expected", 0, 5, None, "li.wei", True),
            ("B", "transfer_in", 5, -5, None, "wang.fang", True),
        ]

    shown = oms(settings, schema, "stock", "show", "TEA")
    assert shown.returncode == 0, shown.stderr
    assert "Total" in shown.stdout and "15" in shown.stdout
