"""The README's first command: `oms demo` runs the engine and projections end to end."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import psycopg

from oms_events.settings import Settings


def test_demo_places_orders_and_the_projection_shows_each_once(isolated: Settings) -> None:
    schema = f"demo_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
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
    with psycopg.connect(isolated.postgres.dsn) as conn:
        rows = conn.execute(
            f'SELECT status, count(*) FROM "{schema}".order_tracking GROUP BY status'
        ).fetchall()
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.commit()
    counts = dict(rows)
    assert sum(counts.values()) == 40
    # Every simulated order was decided: nothing is left pending.
    assert set(counts) <= {"confirmed", "allocated", "shipped", "rejected", "partially_shipped"}
