"""Returns (RMA) on the real broker and database, one engine for the module.

Four orders paid at the channel through Alipay are shipped by their warehouse; then,
through the CLI: a return whose parcel is shipped, scanned by the carrier, received
and inspected (one line restocked: available again; one written off: not), refunded
at the lines' net to the Alipay sandbox; a refund-only return (仅退款); an exchange
whose free replacement order gets its stock reserved by the ordinary order flow.
SF's delivered scans then deliver three of them: with a 3 s return window, the one
refunded and the one kept complete, the one whose exchange is open does not. The
projections agree: return_tracking, inventory_level, payment_ledger, order_tracking,
return_reason_rate, overdue_return.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from oms_events.cli import returns
from oms_events.engine.commands import (
    LineDetails,
    PlaceOrder,
    RecordCarrierUpdate,
    RecordReturnParcelUpdate,
    RecordWarehouseUpdate,
)
from oms_events.engine.order_returns import exchange_order_id
from oms_events.engine.runner import Engine
from oms_events.payments.alipay import AlipayGateway
from oms_events.payments.keys import KeyRing
from oms_events.payments.sandbox import AlipaySandbox
from oms_events.projection.migrate import migrate
from oms_events.projection.registry import select
from oms_events.projection.runner import Runner, connect
from oms_events.settings import Settings, get_settings
from tests.integration.engine.harness import (
    engine_settings,
    light,
    place_order,
    read_events,
    receive,
    send,
    wait_for,
)

APP_ID = "2021000000000001"
PROJECTIONS = ["tracking", "payments", "inventory", "analytics", "returns"]


@pytest.fixture
def alipay(tmp_path: Path) -> Iterator[tuple[AlipaySandbox, AlipayGateway]]:
    ring = KeyRing.load_or_create(tmp_path / "keys")
    sandbox = AlipaySandbox(ring, APP_ID, retry_delays=(60.0,))
    sandbox.start()
    gateway = AlipayGateway(
        app_id=APP_ID,
        app_key=ring.alipay_app,
        alipay_public_key=ring.alipay_platform.public_key(),
        gateway_url=f"{sandbox.url}/gateway.do",
        notify_url="http://127.0.0.1:9/notify",  # nobody listens: not this test's subject
    )
    yield sandbox, gateway
    sandbox.stop()


@pytest.fixture
def schema(isolated: Settings) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(isolated.postgres.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def project(settings: Settings, schema: str, *names: str) -> None:
    """The named projections (default: every one the returns read) caught up in
    ``schema``."""
    chosen = select(list(names) or PROJECTIONS)
    with connect(settings.postgres.dsn, schema, "test-migrate") as conn:
        migrate(conn, schema, chosen)
    for p in chosen:
        with connect(settings.postgres.dsn, schema, f"test-{p.name}") as conn:
            runner = Runner(settings, p, conn, batch_size=200)
            try:
                runner.catch_up()
            finally:
                runner.close()


def oms(settings: Settings, schema: str, *args: str) -> str:
    """Run ``oms return ...`` in this process on these settings (the sub-app: the main
    app's callback would set logging up on the runner's closed stderr); its output."""
    assert args[0] == "return"
    env = {
        "OMS_KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "OMS_KAFKA_TOPIC_PREFIX": settings.kafka.topic_prefix,
        "OMS_KAFKA_PARTITIONS": str(settings.kafka.partitions),
        "OMS_POSTGRES_DSN": settings.postgres.dsn,
        "OMS_PROJECTIONS_SCHEMA_NAME": schema,
        "COLUMNS": "200",
        "LANG": "zh_CN.UTF-8",
    }
    get_settings.cache_clear()  # read from ``env``, then forgotten again
    try:
        result = CliRunner().invoke(returns.app, list(args[1:]), env=env)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.output


def names(settings: Settings, aggregate_type: str) -> list[str]:
    return [e.name for e in read_events(settings, aggregate_type)]


def ship_everything(settings: Settings, count: int) -> dict[Any, tuple[Any, str]]:
    """The warehouse picks, packs and ships every shipment (directly as commands);
    order id -> (shipment id, SF waybill)."""
    assert wait_for(lambda: names(settings, "shipment").count("ShipmentCreated") >= count, 60, 0.5)
    created = [e for e in read_events(settings, "shipment") if e.name == "ShipmentCreated"]
    waybills = {}
    for e in created:
        waybill = f"SF{str(e.originator_id.int)[:13]}"
        waybills[e.payload["order_id"]] = (e.originator_id, waybill)
        for n, status in enumerate(("picked", "packed", "shipped")):
            send(
                settings,
                [
                    RecordWarehouseUpdate(
                        command_id=f"{e.originator_id}/{n}",
                        shipment_id=e.originator_id,
                        status=status,  # type: ignore[arg-type]
                        carrier="SF" if status == "shipped" else None,
                        tracking_no=waybill if status == "shipped" else None,
                    )
                ],
            )
    assert wait_for(lambda: names(settings, "order").count("OrderShipped") >= count, 60, 0.5)
    return waybills


def deliver(settings: Settings, shipment_id: Any, waybill: str) -> None:
    """SF's delivered scan, as the carrier adapter sends it to the shipment."""
    send(
        settings,
        [
            RecordCarrierUpdate(
                command_id=f"delivered/{shipment_id}",
                shipment_id=shipment_id,
                carrier="SF",
                tracking_no=waybill,
                status="delivered",
                occurred_at=datetime.now(UTC),
                location="杭州",
                signer="本人",
            )
        ],
    )


def paid(gateway: AlipayGateway, sandbox: AlipaySandbox, order: PlaceOrder, total: int) -> None:
    """The customer paid the channel's Alipay trade, named by the order number."""
    gateway.request_payment(order.order_no, total, "CNY", order.order_no)
    sandbox.pay(order.order_no)


def test_returns_restock_write_off_refund_refund_only_and_exchange(
    isolated: Settings, alipay: tuple[AlipaySandbox, AlipayGateway], schema: str
) -> None:
    sandbox, gateway = alipay
    # Parcels due at once: a return approved and never sent is overdue when projected.
    # A return window of 3 s; parcels due at once (a return approved and never sent is
    # overdue when projected).
    settings = light(isolated).replace(returns={"window_days": 3 / 86_400, "parcel_due_days": 1e-6})
    receive(settings, {("TEA", "SH"): 5, ("CUP", "SH"): 5, ("TEA-L", "SH"): 3})
    a = replace(
        place_order("RA", "TEA", quantity=2),
        lines=(
            LineDetails(line_no=1, sku="TEA", quantity=2, unit_price=1000),
            LineDetails(line_no=2, sku="CUP", quantity=1, unit_price=3000, discount=300),
        ),
    )
    b = place_order("RB", "TEA")
    c = place_order("RC", "TEA")
    d = place_order("RD", "CUP")  # kept: it completes once delivered
    paid(gateway, sandbox, a, 4700)
    paid(gateway, sandbox, b, 1000)
    paid(gateway, sandbox, c, 1000)
    paid(gateway, sandbox, d, 1000)

    engine = Engine(engine_settings(settings), gateways={"alipay": gateway})
    engine.start()
    try:
        assert wait_for(lambda: engine.stock.available("TEA-L", "SH") == 3, 60, 0.2)
        send(settings, [a, b, c, d])
        waybills = ship_everything(settings, 4)
        project(settings, schema, "tracking")  # the CLI finds orders and lines there

        # A: the goods come back in a parcel; TEA is fine, the CUP arrived cracked.
        oms(settings, schema, "return", "request", a.order_no, "--line", "TEA:2",
            "--line", "CUP:1", "--reason", "quality", "--return-no", "RMA-A")  # fmt: skip
        assert wait_for(lambda: "ReturnApproved" in names(settings, "return"), 60, 0.5)
        project(settings, schema, "returns")  # and returns there
        oms(settings, schema, "return", "ship", "RMA-A", "--carrier", "SF",
            "--tracking-no", "SF1234567890123")  # fmt: skip
        assert wait_for(lambda: "ReturnShipped" in names(settings, "return"), 60, 0.5)
        [rid] = {e.originator_id for e in read_events(settings, "return")}
        # The carrier adapter's contract: a scan of the return's parcel.
        send(
            settings,
            [
                RecordReturnParcelUpdate(
                    command_id="scan-1",
                    return_id=rid,
                    carrier="SF",
                    tracking_no="SF1234567890123",
                    status="delivered",
                    occurred_at=datetime.now(UTC),
                    location="上海仓",
                )
            ],
        )
        assert wait_for(lambda: "ReturnParcelScanned" in names(settings, "return"), 60, 0.5)
        oms(settings, schema, "return", "receive", "RMA-A", "--location", "SH")
        assert wait_for(lambda: "ReturnReceived" in names(settings, "return"), 60, 0.5)
        oms(settings, schema, "return", "inspect", "RMA-A", "--line", "TEA:resellable",
            "--line", "CUP:damaged:cracked in transit")  # fmt: skip
        # 2 TEA at 10.00 and the CUP at its net 27.00 after its discount.
        assert wait_for(lambda: sandbox.refunded(a.order_no) == 4700, 60, 0.5)

        # B: refund only (仅退款), no parcel.
        oms(settings, schema, "return", "request", b.order_no, "--line", "TEA:1",
            "--reason", "missing", "--refund-only", "--return-no", "RMA-B")  # fmt: skip
        assert wait_for(lambda: sandbox.refunded(b.order_no) == 1000, 60, 0.5)

        # C: an exchange; the replacement order's stock is reserved now.
        oms(settings, schema, "return", "request", c.order_no, "--line", "TEA:1",
            "--reason", "wrong_item", "--exchange", "TEA-L:1", "--return-no", "RMA-C")  # fmt: skip
        replacement = exchange_order_id("RMA-C")
        assert wait_for(
            lambda: any(
                e.name == "OrderAllocated" and e.originator_id == replacement
                for e in read_events(settings, "order")
            ),
            60,
            0.5,
        )
        assert wait_for(lambda: names(settings, "return").count("ReturnRefunded") == 2, 60, 0.5)

        # Delivered: A (its return refunded), C (its exchange still open) and D (kept).
        for placed in (a, c, d):
            deliver(settings, *waybills[UUID(placed.key)])
        ids = {UUID(o.key): o.order_no for o in (a, b, c, d)}

        def completed() -> set[str]:
            return {
                ids[e.originator_id]
                for e in read_events(settings, "order")
                if e.name == "OrderCompleted" and e.originator_id in ids
            }

        assert wait_for(lambda: completed() == {a.order_no, d.order_no}, 60, 0.5)
    finally:
        engine.stop()
    assert not engine.failed()

    project(settings, schema)
    with psycopg.connect(settings.postgres.dsn) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        available: dict[str, int] = dict(
            conn.execute("SELECT sku, available FROM inventory_level WHERE location = 'SH'")
        )
        # TEA: 5 - 2 - 1 - 1 shipped + 2 restocked; CUP: 5 - 1 - 1 shipped (A's written off);
        # TEA-L: one reserved for the exchange.
        assert available == {"TEA": 3, "CUP": 3, "TEA-L": 2}
        returns = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT return_no, status, refund_amount, restocked_units, written_off_units, "
                "carrier, tracking_no, last_scan_status, location, refund_only, "
                "exchange_order_id IS NOT NULL FROM return_tracking"
            )
        }
        assert returns["RMA-A"] == (
            "refunded",
            4700,
            2,
            1,
            "SF",
            "SF1234567890123",
            "delivered",
            "SH",
            False,
            False,
        )
        assert returns["RMA-B"][:2] == ("refunded", 1000) and returns["RMA-B"][8]
        assert returns["RMA-C"][0] == "approved" and returns["RMA-C"][9]
        refunds: dict[str, int] = dict(
            conn.execute(
                "SELECT o.order_no, o.amount_refunded FROM order_tracking o "
                "WHERE o.order_no = ANY(%s)",
                ([a.order_no, b.order_no, c.order_no],),
            )
        )
        assert refunds == {a.order_no: 4700, b.order_no: 1000, c.order_no: 0}
        # The window closed with no return open: completed; C waits for its exchange.
        statuses: dict[str, str] = dict(
            conn.execute(
                "SELECT order_no, status FROM order_tracking WHERE order_no = ANY(%s)",
                ([a.order_no, b.order_no, c.order_no, d.order_no],),
            )
        )
        assert statuses == {
            a.order_no: "completed",
            b.order_no: "shipped",
            c.order_no: "delivered",
            d.order_no: "completed",
        }
        timeline = [
            event
            for (event,) in conn.execute(
                "SELECT event FROM order_timeline WHERE order_id = %s AND aggregate = 'order' "
                "ORDER BY version",
                (UUID(a.key),),
            )
        ]
        returned = [e for e in timeline if e.startswith(("Return", "Refund", "OrderCompleted"))]
        assert returned == [
            "ReturnOpened",
            "RefundAgreed",
            "ReturnResolved",
            "RefundRecorded",
            "OrderCompleted",
        ]
        ledger = conn.execute(
            "SELECT refund_id, -amount FROM payment_ledger WHERE kind = 'refund' ORDER BY 1"
        ).fetchall()
        assert ledger == [("RMA-A", 4700), ("RMA-B", 1000)]
        rates = {
            (sku, reason): (returned, shipped)
            for sku, reason, returned, shipped in conn.execute(
                "SELECT sku, reason, returned_units, shipped_units FROM return_reason_rate"
            )
        }
        assert rates[("TEA", "quality")] == (2, 4)
        assert rates[("TEA", "missing")] == (1, 4)
        assert rates[("CUP", "quality")] == (1, 2)
        overdue = conn.execute("SELECT return_no FROM overdue_return").fetchall()
        assert overdue == [("RMA-C",)]  # approved, never sent; RMA-A was scanned
    shown = oms(settings, schema, "return", "show", "RMA-A")
    assert "质量问题" in shown and "cracked in transit" in shown and "47.00 CNY" in shown
