"""``oms demo``: the whole engine on the local Kafka and PostgreSQL, in one command.

Starts the services, applies topics and migrations, runs the engine (`oms run`), the
projections (`oms project`) and the HTTP server (`oms channel serve`, where the payment
sandboxes notify) as child processes, drives a short full-life simulation (the carrier
simulator of ``oms dev up`` delivers the parcels), collects a few
orders' payments in the sandboxes and refunds two (``demo_payments.py``), then shows
what an analyst sees in PostgreSQL, and stops the children again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from oms_events.avro.registry import codec_from_settings
from oms_events.cli.demo_payments import collect_and_refund
from oms_events.cli.errors import one_line_errors
from oms_events.cli.project import SCHEMA, schema_or_setting
from oms_events.devservices import services
from oms_events.kafka.acls import apply_acls
from oms_events.kafka.admin import apply_topics
from oms_events.projection.migrate import migrate_as_owner
from oms_events.projection.registry import load_projections, projected
from oms_events.projection.status import lags
from oms_events.settings import Settings, get_settings

out = Console()
PLACE_ORDER = "oms.order.commands.PlaceOrder"


def sample_order() -> dict[str, object]:
    """A Tmall-style order, already normalized, as a PlaceOrder command."""
    external = f"TM{uuid.uuid4().int % 10**12:012d}"
    return {
        "command_id": str(uuid.uuid4()),
        "order_no": f"OMS-{external}",
        "channel": "tmall",
        "external_id": external,
        "customer": {"name": "张三", "phone": "13800138000", "account": "tb_zhangsan"},
        "address": {
            "country": "CN",
            "province": "浙江省",
            "city": "杭州市",
            "district": "西湖区",
            "postcode": "310000",
            "line1": "文三路 90 号",
        },
        "currency": "CNY",
        "lines": [
            {
                "line_no": 1,
                "sku": "SKU-TEA-001",
                "quantity": 2,
                "unit_price": 1250,
                "discount": 250,
                "promotions": ["满100减10"],
            }
        ],
        "payment_method": "alipay",
        "paid": True,
        "delivery_speed": "standard",
        "placed_at": datetime.now(UTC),
    }


def _spawn(settings: Settings, name: str, *args: str) -> subprocess.Popen[bytes]:
    log = settings.dev.data_dir / "logs" / f"demo-{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as f:
        return subprocess.Popen(
            [sys.executable, "-m", "oms_events.cli.main", *args],
            stdout=f,
            stderr=subprocess.STDOUT,
            env={**os.environ, "OMS_LOG_FORMAT": "json"},
        )


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def _wait_caught_up(settings: Settings, schema: str, timeout: float) -> int:
    projections = projected()
    deadline = time.monotonic() + timeout
    lag = -1
    with psycopg.connect(settings.postgres.dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            lag = sum(r.lag for r in lags(settings, conn, schema, projections))
            if lag == 0:
                return 0
            time.sleep(0.5)
    return lag


def _show_projections(settings: Settings, schema: str) -> None:
    with psycopg.connect(settings.postgres.dsn) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        statuses = conn.execute(
            "SELECT status, count(*) FROM order_tracking GROUP BY status ORDER BY 2 DESC"
        ).fetchall()
        stock = conn.execute(
            "SELECT location, count(*), sum(on_hand), sum(reserved), sum(available) "
            "FROM inventory_level GROUP BY location ORDER BY location"
        ).fetchall()
    t = Table("status", "orders", title="orders by status")
    for status, n in statuses:
        t.add_row(str(status), str(n))
    out.print(t)
    t = Table("location", "skus", "on hand", "reserved", "available", title="stock by location")
    for row in stock:
        t.add_row(*(str(v) for v in row))
    out.print(t)


@one_line_errors
def demo(
    orders: Annotated[int, typer.Option("--orders", help="Orders to simulate.")] = 300,
    rate: Annotated[float, typer.Option("--rate", help="Orders published per second.")] = 100.0,
    schema: str | None = SCHEMA,
) -> None:
    """Start Kafka, PostgreSQL and the payment sandboxes, apply topics and migrations,
    run the engine, the projections and the HTTP server, simulate ORDERS orders, have
    the customers of a few unpaid ones pay in the Alipay / WeChat Pay sandboxes, refund
    two, and show the resulting tables (payment_ledger, daily_settlement among them).

    Engine and projection logs go to OMS_DEV_DATA_DIR/logs/demo-*.log.
    """
    from oms_events.cli.simulate import simulate

    settings = get_settings()
    schema = schema_or_setting(schema)
    with out.status("starting Kafka and PostgreSQL…"):
        services.up(settings)
    states = apply_topics(settings)
    out.print(f"topics: {len(states)} ({sum(s.action == 'created' for s in states)} created)")
    # The engine and projections below run as their own Kafka principals (as_service):
    # this prefix's rules first, as `oms topics apply` writes them.
    apply_acls(settings)
    applied = migrate_as_owner(settings, schema, list(load_projections().values()))
    out.print(f"projections: schema {schema}, {len(applied)} migration(s) applied now")
    procs = [
        _spawn(settings, "engine", "run", "--no-apply-topics"),
        _spawn(settings, "projections", "project", "--schema", schema),
        # The providers' sandboxes notify payments here (settings.payments.*_notify_url).
        _spawn(settings, "http", "channel", "serve"),
    ]
    try:
        # Every order to its end: carriers (oms dev up's simulator) deliver, some orders
        # are paid cash on delivery, a few are cancelled after allocation.
        simulate(
            orders=orders,
            channels=3,
            skus=20,
            locations=3,
            rate=rate,
            stock=0,
            timeout=600,
            life="full",
            cod_rate=0.2,
            cancel_rate=0.05,
            intercept_rate=0.02,
            failed_delivery_rate=0.1,
            return_rate=0.05,
            exchange_rate=0.02,
            time_scale=0.0,
        )
        with out.status("collecting payments in the Alipay / WeChat Pay sandboxes…"):
            collect_and_refund(settings, codec_from_settings(settings), schema, out)
        with out.status("waiting for the projections to catch up…"):
            lag = _wait_caught_up(settings, schema, timeout=120)
        if lag:
            out.print(f"[yellow]projections still {lag} events behind[/]")
        _show_projections(settings, schema)
    finally:
        _stop(procs)
    logs = Path(settings.dev.data_dir) / "logs"
    out.print(f"engine and projections stopped; their logs: {logs}/demo-*.log")
    out.print(
        f"try: psql \"{settings.postgres.analyst_dsn}\" -c 'SELECT * FROM {schema}.daily_sales'",
        soft_wrap=True,
        highlight=False,
    )
