"""Cash on delivery and voided trades end to end, on the real broker and PostgreSQL, with
one engine: COD orders are collected at the door (CollectCod, as the carrier adapter
sends it; an order in two parcels in parts, one per waybill), ``cod_outstanding`` shows
them collected per waybill, ``oms cod reconcile`` reads the courier's remittance file
(BOM, Chinese headers) into remitted / short-paid / missing rows and exceptions, and
the same file again records nothing more. An unpaid Alipay order that is cancelled has
its trade closed at the sandbox, and ``oms payment show`` says its tender was voided."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from oms_events.domain.ids import order_of_trade
from oms_events.engine.commands import CancelOrder, CollectCod
from oms_events.engine.runner import Engine
from oms_events.payments.keys import KeyRing
from oms_events.payments.sandbox import AlipaySandbox
from oms_events.projection.migrate import migrate
from oms_events.projection.registry import select
from oms_events.projection.runner import Runner, connect
from oms_events.settings import Settings
from tests.integration.engine.harness import (
    engine_settings,
    light,
    place_order,
    read_events,
    receive,
    send,
    wait_for,
)
from tests.unit.payments.conftest import APP_ID, alipay_gateway

PROJECTIONS = ("tracking", "payments", "cod", "exceptions")


@pytest.fixture
def schema(dev_services: Settings) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(dev_services.postgres.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def project(settings: Settings, schema: str) -> None:
    """The projections this test reads, caught up to the end of their topics."""
    for p in select(PROJECTIONS):
        with connect(settings.postgres.dsn, schema, f"test-{p.name}") as conn:
            migrate(conn, schema, [p])
            runner = Runner(settings, p, conn, batch_size=500)
            try:
                runner.catch_up()
            finally:
                runner.close()


def rows(settings: Settings, schema: str, query: str) -> list[dict[str, Any]]:
    with (
        connect(settings.postgres.dsn, schema, "test-read", create=False) as conn,
        conn.cursor(row_factory=psycopg.rows.dict_row) as cur,
    ):
        return cur.execute(query).fetchall()


def oms(settings: Settings, *args: str) -> str:
    """Run the ``oms`` CLI against this test's topics and schema, as an operator would."""
    env = {
        **os.environ,
        "OMS_KAFKA_TOPIC_PREFIX": settings.kafka.topic_prefix,
        "OMS_KAFKA_PARTITIONS": str(settings.kafka.partitions),
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [sys.executable, "-m", "oms_events.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def names(settings: Settings, aggregate_type: str) -> list[str]:
    return [e.name for e in read_events(settings, aggregate_type)]


def collect(
    order_id: uuid.UUID, order_no: str, amount: int, waybill: str, expected: int | None = None
) -> CollectCod:
    return CollectCod(
        command_id=f"carrier/{waybill}/delivered",
        order_id=order_id,
        order_no=order_no,
        channel="web",
        currency="CNY",
        amount=amount,
        carrier="SF",
        tracking_no=waybill,
        collected_at=datetime(2026, 11, 30, 15, tzinfo=UTC),
        expected=expected,
    )


def test_cod_is_collected_reconciled_and_a_cancelled_trade_is_closed(
    isolated: Settings,
    schema: str,
    tmp_path: Path,
) -> None:
    settings = light(isolated)
    receive(settings, {("TEA", "SH"): 10})
    ring = KeyRing.load_or_create(tmp_path / "keys")
    sandbox = AlipaySandbox(ring, APP_ID, retry_delays=(60.0,)).start()
    gateway = alipay_gateway(ring, sandbox.url, "http://127.0.0.1:9/payments/alipay/notify")
    engine = Engine(engine_settings(settings), gateways={"alipay": gateway})
    engine.start()
    run = uuid.uuid4().hex[:6]
    try:
        assert wait_for(lambda: engine.stock.available("TEA", "SH") == 10, 60, 0.2)
        cod = [place_order(f"C{n}-{run}", "TEA", paid=False, method="cod") for n in range(4)]
        unpaid = place_order(f"A-{run}", "TEA", paid=False, method="alipay")
        send(settings, [*cod, unpaid])
        # Each COD order asks for its cash on delivery; the Alipay one has its trade opened.
        assert wait_for(lambda: names(settings, "payment").count("PaymentRequested") == 5, 60)
        assert wait_for(lambda: len(sandbox.trades) == 1, 60, 0.2)
        [trade] = sandbox.trades.values()
        orders = {
            e.payload["order_no"]: e.originator_id
            for e in read_events(settings, "order")
            if e.name == "OrderPlaced"
        }

        # The courier collects: in full on two waybills (one of them twice: the same
        # delivered scan again), and the cancelled Alipay order is withdrawn. The fourth
        # order left in two parcels: each waybill collects its own part.
        waybills = {f"SO-C{n}-{run}": f"SF{run}{n:04d}" for n in range(3)}
        delivered = [
            collect(orders[no], no, 1000, waybill) for no, waybill in sorted(waybills.items())
        ]
        split, parts = f"SO-C3-{run}", (f"SF{run}0031", f"SF{run}0032")
        delivered += [
            collect(orders[split], split, 600, parts[0], expected=600),
            collect(orders[split], split, 400, parts[1], expected=400),
        ]
        send(settings, [*delivered, delivered[0]])
        send(
            settings,
            [
                CancelOrder(
                    command_id=str(uuid.uuid4()),
                    order_id=order_of_trade(trade.out_trade_no) or uuid.uuid4(),
                    reason="customer cancelled",
                )
            ],
        )
        assert wait_for(lambda: names(settings, "payment").count("CodCollected") == 5, 60)
        assert wait_for(lambda: sandbox.trades[trade.out_trade_no].closed, 60, 0.2)
        assert wait_for(lambda: names(settings, "order").count("PaymentRecorded") == 5, 60), (
            "each COD order learns of each waybill's cash, once"
        )

        project(settings, schema)
        outstanding = rows(
            settings, schema, "SELECT tracking_no, status, collected_amount FROM cod_outstanding"
        )
        assert sorted(
            (r["tracking_no"], r["status"], r["collected_amount"]) for r in outstanding
        ) == sorted(
            [(w, "collected", 1000) for w in waybills.values()]
            + [(parts[0], "collected", 600), (parts[1], "collected", 400)]
        )

        # SF's remittance file: the first waybill matched, the second short by ¥0.50,
        # the third missing, and one waybill that is not ours; saved by Excel (BOM).
        w0, w1, _ = sorted(waybills.values())
        text = (
            "运单号,代收货款,手续费,回款日期\r\n"
            f"{w0},10.00,0.10,2026-12-03\r\n"
            f"{w1},9.50,0.10,2026-12-03\r\n"
            "SF0000000000,20.00,0.20,2026-12-03\r\n"
            f"{parts[0]},6.00,0.06,2026-12-03\r\n"
            f"{parts[1]},4.00,0.04,2026-12-03\r\n"
        )
        file = tmp_path / "SF回款.csv"
        file.write_bytes(b"\xef\xbb\xbf" + text.encode())
        said = oms(
            settings,
            "cod",
            "reconcile",
            str(file),
            "--carrier",
            "SF",
            "--schema",
            schema,
        )
        assert "matched 3  short_paid 1  over_paid 0  missing 1  unknown 1" in said
        assert wait_for(
            lambda: {"CodRemitted", "CodRemittanceMissing"} <= set(names(settings, "payment")), 60
        )
        assert wait_for(lambda: names(settings, "payment").count("CodRemitted") == 4, 60)
        project(settings, schema)
        statuses = {
            r["tracking_no"]: (r["status"], r["remitted_amount"], r["fee"])
            for r in rows(settings, schema, "SELECT * FROM cod_outstanding")
        }
        assert statuses == {
            w0: ("remitted", 1000, 10),
            w1: ("short_paid", 950, 10),
            sorted(waybills.values())[2]: ("missing", None, None),
            parts[0]: ("remitted", 600, 6),  # the split order: reconciled per waybill
            parts[1]: ("remitted", 400, 4),
        }
        kinds = sorted(
            (r["kind"], r["code"], r["order_no"])
            for r in rows(settings, schema, "SELECT kind, code, order_no FROM exception")
            if r["code"] and r["code"].startswith("cod.")
        )
        assert kinds == [
            ("cod_missing", "cod.missing", f"SO-C2-{run}"),
            ("cod_short_paid", "cod.short_paid", f"SO-C1-{run}"),
            ("dead_letter", "cod.unknown_waybill", None),
        ]

        # The same file again: nothing more to record.
        again = oms(
            settings,
            "cod",
            "reconcile",
            str(file),
            "--carrier",
            "SF",
            "--schema",
            schema,
        )
        assert "remitted_before 4" in again and "-> 0 remittance command(s) sent" in again

        # The cancelled Alipay order: its tender is voided, its trade closed.
        assert wait_for(lambda: "TradeClosed" in names(settings, "payment"), 60)
        project(settings, schema)
        show = oms(settings, "payment", "show", f"SO-A-{run}", "--schema", schema)
        assert "voided (customer cancelled), trade closed" in show
        assert trade.out_trade_no in show
    finally:
        engine.stop()
        sandbox.stop()
    assert not engine.failed()
    assert engine.desk is not None and engine.desk.error is None
    with pytest.raises(ValueError, match="closed"):
        sandbox.pay(trade.out_trade_no)
