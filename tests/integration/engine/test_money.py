"""An order's money on the real broker: paid at the channel through Alipay, refunded
in part (a line's units) and then in full (the rest and the shipping fee); the refunds
reach the Alipay sandbox through the gateway port, each once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from oms_events.engine.commands import ChangeOrder, LineDetails, PlaceOrder
from oms_events.engine.runner import Engine
from oms_events.payments.alipay import AlipayGateway
from oms_events.payments.gateway import PaymentGateway, RefundAccepted
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

APP_ID = "2021000000000001"


class Counting:
    """The real gateway, counting the refund requests that left for the provider."""

    def __init__(self, gateway: PaymentGateway) -> None:
        self.gateway = gateway
        self.provider = gateway.provider
        self.refund_requests: list[str] = []
        self.lock = threading.Lock()

    def request_refund(self, *args: Any, **kwargs: Any) -> RefundAccepted:
        with self.lock:
            self.refund_requests.append(args[1])
        return self.gateway.request_refund(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.gateway, name)


@pytest.fixture
def alipay(tmp_path: Path) -> Iterator[tuple[AlipaySandbox, Counting]]:
    ring = KeyRing.load_or_create(tmp_path / "keys")
    sandbox = AlipaySandbox(ring, APP_ID, retry_delays=(60.0,)).start()
    gateway = AlipayGateway(
        app_id=APP_ID,
        app_key=ring.alipay_app,
        alipay_public_key=ring.alipay_platform.public_key(),
        gateway_url=f"{sandbox.url}/gateway.do",
        # Nobody listens: the payment's notification is not what this test is about.
        notify_url="http://127.0.0.1:9/notify",
    )
    yield sandbox, Counting(gateway)
    sandbox.stop()


@pytest.fixture
def schema(isolated: Settings) -> Iterator[str]:
    """A fresh PostgreSQL schema for the projections, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(isolated.postgres.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def project(settings: Settings, schema: str) -> None:
    """The payments and tracking projections caught up in ``schema``."""
    for p in select(["payments", "tracking"]):
        with connect(settings.postgres.dsn, schema, f"test-{p.name}") as conn:
            migrate(conn, schema, [p])
            runner = Runner(settings, p, conn, batch_size=100)
            try:
                runner.catch_up()
            finally:
                runner.close()


def oms(settings: Settings, schema: str, *args: str) -> str:
    """Run the ``oms`` CLI on these settings; its output (fails the test on an error)."""
    env = {
        **os.environ,
        "OMS_KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "OMS_KAFKA_TOPIC_PREFIX": settings.kafka.topic_prefix,
        "OMS_KAFKA_PARTITIONS": str(settings.kafka.partitions),
        "OMS_POSTGRES_DSN": settings.postgres.dsn,
        "OMS_PROJECTIONS_SCHEMA_NAME": schema,
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [sys.executable, "-m", "oms_events.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def payments(settings: Settings) -> list[Any]:
    return read_events(settings, "payment")


def names(events: list[Any]) -> list[str]:
    return [e.name for e in events]


def test_an_order_paid_at_the_channel_is_refunded_in_part_then_in_full(
    isolated: Settings, alipay: tuple[AlipaySandbox, Counting], schema: str
) -> None:
    sandbox, gateway = alipay
    settings = light(isolated)
    receive(settings, {("TEA", "SH"): 5, ("CUP", "SH"): 5})
    order = replace(
        place_order("M1", "TEA", quantity=2),
        lines=(
            LineDetails(line_no=1, sku="TEA", quantity=2, unit_price=1000),
            # 300 off: the line's share of an order-level promotion, spread by intake.
            LineDetails(line_no=2, sku="CUP", quantity=1, unit_price=3000, discount=300),
        ),
        shipping_fee=500,
    )
    total = 2 * 1000 + 2700 + 500
    # The customer paid the channel's Alipay trade, named by the order number.
    gateway.request_payment(order.order_no, total, "CNY", "order M1")
    sandbox.pay(order.order_no)

    engine = Engine(engine_settings(settings), gateways={"alipay": gateway})
    engine.start()
    try:
        # Stock arrives long before orders in life; here the view must see it first.
        assert wait_for(lambda: engine.stock.available("CUP", "SH") == 5, 60, 0.2)
        send(settings, [order])
        assert wait_for(lambda: "PaymentCaptured" in names(payments(settings)), 60, 0.5)
        assert wait_for(lambda: "OrderAllocated" in names(read_events(settings, "order")), 60)
        order_id = next(e.originator_id for e in read_events(settings, "order"))

        # One TEA back, as an operator asks: its net, 1000.
        project(settings, schema)
        oms(
            settings,
            schema,
            "refund",
            order.order_no,
            "--line",
            "TEA:1",
            "--reason",
            "damaged in transit",
            "--refund-id",
            "RF-M1-1",
        )
        assert wait_for(lambda: sandbox.refunded(order.order_no) == 1000, 60, 0.5)
        # Everything else: one TEA, the CUP after its promotion, the shipping fee.
        oms(
            settings,
            schema,
            "refund",
            order.order_no,
            "--reason",
            "order returned",
            "--refund-id",
            "RF-M1-2",
        )
        assert wait_for(lambda: sandbox.refunded(order.order_no) == total, 60, 0.5)
        assert wait_for(
            lambda: names(read_events(settings, "order")).count("RefundRecorded") == 2, 60, 0.5
        )
    finally:
        engine.stop()
    assert not engine.failed()
    assert engine.desk is not None and engine.desk.error is None

    money = payments(settings)
    assert names(money) == [
        "PaymentRequested",
        "PaymentCaptured",
        "RefundRequested",
        "PaymentRefunded",
        "RefundRequested",
        "PaymentRefunded",
    ]
    refunded = [e.payload["amount"]["amount"] for e in money if e.name == "PaymentRefunded"]
    assert refunded == [1000, total - 1000]
    recorded = [
        e.payload["amount"]["amount"]
        for e in read_events(settings, "order")
        if e.name == "RefundRecorded"
    ]
    assert recorded == refunded
    # Each refund left for the provider once, under its own key.
    assert sorted(gateway.refund_requests) == ["RF-M1-1", "RF-M1-2"]

    # The projections agree with the log and with each other.
    project(settings, schema)
    with psycopg.connect(settings.postgres.dsn) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        ledger = conn.execute(
            "SELECT kind, amount, method, provider_reference <> '' FROM payment_ledger "
            "WHERE order_id = %s ORDER BY occurred_at, version",
            (order_id,),
        ).fetchall()
        assert ledger == [
            ("capture", total, "alipay", True),
            ("refund", -1000, "alipay", True),
            ("refund", -(total - 1000), "alipay", True),
        ]
        paid, refunded = conn.execute(
            "SELECT amount_paid, amount_refunded FROM order_tracking WHERE order_id = %s",
            (order_id,),
        ).fetchone()
        assert (paid, refunded) == (total, total)
        assert paid - refunded == sum(amount for _, amount, _, _ in ledger) == 0
        assert conn.execute(
            "SELECT refund_id, amount, status FROM refund ORDER BY refund_id"
        ).fetchall() == [("RF-M1-1", 1000, "succeeded"), ("RF-M1-2", total - 1000, "succeeded")]
        assert conn.execute(
            "SELECT channel, method, captured, refunded, fees, net FROM daily_settlement"
        ).fetchall() == [("web", "alipay", total, total, 0, 0)]
    shown = oms(settings, schema, "payment", "show", order.order_no)
    assert "RF-M1-2" in shown and "Held 0.00 CNY" in shown


def change(placed: PlaceOrder, lines: tuple[LineDetails, ...], paid: bool) -> ChangeOrder:
    """The channel's new version of ``placed`` with these lines."""
    return ChangeOrder(
        command_id=str(uuid.uuid4()),
        order_no=placed.order_no,
        channel=placed.channel,
        external_id=placed.external_id,
        customer=placed.customer,
        address=placed.address,
        currency=placed.currency,
        lines=lines,
        previous_hash="0" * 32,
        content_hash=uuid.uuid4().hex,
        changed_at=datetime.now(UTC),
        paid=paid,
    )


def test_a_line_added_is_collected_and_a_line_removed_is_refunded(
    isolated: Settings, alipay: tuple[AlipaySandbox, Counting], schema: str
) -> None:
    sandbox, gateway = alipay
    # Held for review, so the order stays open to the channel's changes.
    settings = light(isolated).replace(
        engine={"workflow": json.dumps({"manual_review": ["13800000000"]})}
    )
    receive(settings, {("TEA", "SH"): 5, ("CUP", "SH"): 5})
    placed = place_order("C1", "TEA", quantity=2)
    gateway.request_payment(placed.order_no, 2000, "CNY", "order C1")
    sandbox.pay(placed.order_no)
    tea = placed.lines[0]
    cup = LineDetails(line_no=2, sku="CUP", quantity=1, unit_price=500)

    engine = Engine(engine_settings(settings), gateways={"alipay": gateway})
    engine.start()
    try:
        assert wait_for(lambda: engine.stock.available("CUP", "SH") == 5, 60, 0.2)
        send(settings, [placed])
        assert wait_for(lambda: "OrderHeld" in names(read_events(settings, "order")), 60)
        # The channel collected the added line's 500 with the new version.
        send(settings, [change(placed, (tea, cup), paid=True)])
        assert wait_for(lambda: names(payments(settings)).count("PaymentCaptured") == 2, 60)
        [added] = [e for e in payments(settings) if e.name == "PaymentCaptured"][1:]
        assert added.payload["amount"]["amount"] == 500
        # Its trade, as the channel's Alipay opened and the customer paid it.
        gateway.request_payment(added.payload["reference"], 500, "CNY", "order C1, more")
        sandbox.pay(added.payload["reference"])
        # The line removed again: 500 owed back, over the two tenders in proportion.
        send(settings, [change(placed, (tea,), paid=True)])
        assert wait_for(lambda: "RefundRecorded" in names(read_events(settings, "order")), 60, 0.5)
    finally:
        engine.stop()
    assert not engine.failed()

    back = sandbox.refunded(placed.order_no), sandbox.refunded(added.payload["reference"])
    assert back == (400, 100)
    order_names = names(read_events(settings, "order"))
    assert [n for n in order_names if n in ("PaymentDue", "PaymentRecorded", "RefundDue")] == [
        "PaymentDue",
        "PaymentRecorded",
        "RefundDue",
    ]
    project(settings, schema)
    with psycopg.connect(settings.postgres.dsn) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        [(held,)] = conn.execute("SELECT sum(amount) FROM payment_ledger").fetchall()
        [(paid, refunded)] = conn.execute(
            "SELECT amount_paid, amount_refunded FROM order_tracking"
        ).fetchall()
    assert (paid, refunded, held) == (2500, 500, 2000)


def test_a_paid_order_rejected_for_want_of_stock_is_refunded_in_full(
    isolated: Settings, alipay: tuple[AlipaySandbox, Counting]
) -> None:
    sandbox, gateway = alipay
    settings = light(isolated)
    placed = place_order("R1", "GONE", quantity=1)  # no stock anywhere
    gateway.request_payment(placed.order_no, 1000, "CNY", "order R1")
    sandbox.pay(placed.order_no)
    engine = Engine(engine_settings(settings), gateways={"alipay": gateway})
    engine.start()
    try:
        send(settings, [placed])
        assert wait_for(lambda: sandbox.refunded(placed.order_no) == 1000, 60, 0.5)
        assert wait_for(lambda: "RefundRecorded" in names(read_events(settings, "order")), 60, 0.5)
    finally:
        engine.stop()
    assert not engine.failed()
    order_names = names(read_events(settings, "order"))
    assert order_names[:3] == ["OrderPlaced", "OrderRejected", "RefundDue"]
    assert len(gateway.refund_requests) == 1
