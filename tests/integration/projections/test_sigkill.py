"""SIGKILL the projection process while it writes, restart it, and compare with a replay."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from oms_events.kafka.security import environment as kafka_environment
from oms_events.projection.registry import projected
from oms_events.projection.replay import rebuild
from oms_events.projection.runner import connect
from oms_events.projection.status import lags
from oms_events.settings import Settings
from tests.integration.projections import world as w
from tests.integration.projections.conftest import differences

ROOT = Path(__file__).resolve().parents[3]
TABLES = (
    "inventory_level",
    "inventory_sales_daily",
    "order_tracking",
    "order_line",
    "order_timeline",
    "shipment_tracking",
    "exception",
    "exception_subject",
    "fact_order_line",
)


def start(settings: Settings, schema: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **kafka_environment(settings),  # as the admin: these topics have no ACLs
        "OMS_KAFKA_TOPIC_PREFIX": settings.kafka.topic_prefix,
        "OMS_KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "OMS_POSTGRES_DSN": settings.postgres.dsn,
        "OMS_LOG_FORMAT": "json",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "oms_events.projection", "--schema", schema, "--batch-size", "400"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def writing(pg: psycopg.Connection, pid_hint: str = "oms-project-%") -> bool:
    """True while some projection connection is inside a transaction that has written."""
    row = pg.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE %s "
        "AND backend_xid IS NOT NULL",
        (pid_hint,),
    ).fetchone()
    pg.commit()
    return bool(row and row[0])


@pytest.mark.fault
def test_sigkill_mid_batch_then_restart_equals_a_fresh_replay(
    topics_ready: Settings, pg: psycopg.Connection, schema: str
) -> None:
    world = w.build(500)
    w.produce(topics_ready, world.events)
    w.produce_dead_letters(topics_ready, 6)
    pg.autocommit = False

    proc = start(topics_ready, schema)
    deadline = time.monotonic() + 60
    while not writing(pg):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "the projection never started writing"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)  # mid-batch: its transaction holds written rows
    proc.wait()
    with connect(topics_ready.postgres.dsn, schema, "test") as conn:
        before = lags(topics_ready, conn, schema, projected())
    assert sum(r.lag for r in before) > 0, "killed too late to prove anything"

    proc = start(topics_ready, schema)
    try:
        deadline = time.monotonic() + 120
        while True:
            with connect(topics_ready.postgres.dsn, schema, "test") as conn:
                if all(r.lag == 0 for r in lags(topics_ready, conn, schema, projected())):
                    break
            assert proc.poll() is None
            assert time.monotonic() < deadline, "the restarted projection did not catch up"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

    fresh = schema + "_fresh"
    for p in projected():
        rebuild(topics_ready, p, fresh)
    for t in TABLES:
        count = pg.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, t))
        ).fetchone()
        assert differences(pg, schema, fresh, t) == 0, f"{t} differs from a fresh replay"
        assert count is not None and count[0] > 0, t
