"""The README's first command: `oms demo` runs the engine and projections end to end."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import psycopg

from oms_events.settings import Settings
from tests.ports import free_port


def test_demo_places_orders_and_the_projection_shows_each_once(isolated: Settings) -> None:
    schema = f"demo_{uuid.uuid4().hex[:8]}"
    port = free_port()  # our HTTP server, where the sandboxes notify this run's payments
    env = {
        **os.environ,
        "OMS_HTTP_PORT": str(port),
        "OMS_PAYMENTS_ALIPAY_NOTIFY_URL": f"http://127.0.0.1:{port}/payments/alipay/notify",
        "OMS_PAYMENTS_WECHATPAY_NOTIFY_URL": f"http://127.0.0.1:{port}/payments/wechatpay/notify",
        "OMS_KAFKA_TOPIC_PREFIX": isolated.kafka.topic_prefix,
        "OMS_PROJECTIONS_SCHEMA_NAME": schema,
        "OMS_KAFKA_PARTITIONS": "2",
        "COLUMNS": "120",
    }
    out = subprocess.run(
        [sys.executable, "-m", "oms_events.cli.main", "demo", "--orders", "40", "--rate", "40"],
        capture_output=True,
        text=True,
        env=env,
        timeout=400,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "orders by status" in out.stdout
    assert "payment_ledger" in out.stdout and "daily_settlement" in out.stdout
    with psycopg.connect(isolated.postgres.dsn) as conn:
        rows = conn.execute(
            f'SELECT status, count(*) FROM "{schema}".order_tracking GROUP BY status'
        ).fetchall()
        # The orders paid in the sandboxes (PAY…) and their refunds, in the ledger.
        ours = conn.execute(
            f'SELECT method, kind, count(*), sum(amount) FROM "{schema}".payment_ledger '
            "WHERE order_no LIKE 'OMS-web-PAY%' GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.commit()
    assert ours == [
        ("alipay", "capture", 2, 2 * 9800),
        ("alipay", "refund", 1, -4900),  # one tin of the first order
        ("wechat_pay", "capture", 2, 2 * 9800),
        ("wechat_pay", "refund", 1, -9800),  # all of the second
    ]
    counts = dict(rows)
    # 40 simulated orders and 4 the customers paid in the sandboxes.
    assert sum(counts.values()) == 44
    # Every simulated order was decided: nothing is left pending.
    # (The full life cancels a few after allocation, and the carriers deliver: orders are
    # delivered, still shipped while the parcel is on the road, or returned to sender
    # once a refused parcel is back at the warehouse.)
    assert set(counts) <= {
        "confirmed",
        "allocated",
        "shipped",
        "rejected",
        "partially_shipped",
        "cancelled",
        "delivered",
        "completed",
        "returned_to_sender",
    }
