"""PostgreSQL restarted under a running ``oms project``: the process logs "waiting for
PostgreSQL", does not exit, reconnects, and its tables end equal to a fresh replay
(nothing applied twice, nothing skipped). The PostgreSQL stopped is one this test
starts on its own port and data directory, never the shared one."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from oms_events.devservices import postgres_roles as pg_roles
from oms_events.devservices.postgres_server import PostgresServer
from oms_events.kafka.admin import apply_topics
from oms_events.kafka.security import environment as kafka_environment
from oms_events.projection.registry import select
from oms_events.projection.replay import rebuild
from oms_events.projection.runner import connect
from oms_events.projection.status import lags
from oms_events.settings import Settings
from oms_events.topics import Kind, registry
from tests.integration.projections import world as w
from tests.integration.projections.conftest import differences
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
PROJECTIONS = ("inventory", "analytics")
TABLES = ("inventory_level", "inventory_sales_daily", "fact_order_line")


@pytest.fixture
def own_postgres(isolated: Settings) -> Iterator[tuple[Settings, PostgresServer]]:
    """``isolated`` settings pointing at a PostgreSQL of this test's own (port, data dir)."""
    port = free_port()
    home = Path(tempfile.mkdtemp(prefix="oms-pg-outage-"))
    home.chmod(0o755)  # the server runs as the postgres user (with root's group, as root)
    settings = isolated.replace(
        kafka={"partitions": 3},
        dev={"data_dir": home, "postgres_port": port},
        # The test makes and drops its schema: the migrator's work (see dev_services).
        postgres={
            "dsn": pg_roles.dsn(home, port, pg_roles.MIGRATOR),
            "migrator_dsn": pg_roles.dsn(home, port, pg_roles.MIGRATOR),
            "analyst_dsn": pg_roles.dsn(home, port, pg_roles.ANALYST),
        },
    )
    server = PostgresServer(settings)
    server.start()
    try:
        yield settings, server
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def lag(settings: Settings, schema: str) -> int:
    with connect(settings.postgres.dsn, schema, "test") as conn:
        return sum(r.lag for r in lags(settings, conn, schema, select(list(PROJECTIONS))))


def applied(settings: Settings, schema: str) -> int:
    """Records the projections have committed so far (their stored offsets), read from
    PostgreSQL alone so the test can poll it every few milliseconds."""
    try:
        with psycopg.connect(settings.postgres.dsn) as pg:
            row = pg.execute(
                sql.SQL("SELECT coalesce(sum(next_offset), 0) FROM {}.projection_offset").format(
                    sql.Identifier(schema)
                )
            ).fetchone()
    except psycopg.Error:
        return 0  # its schema or offsets are not there yet
    return int(row[0]) if row else 0


def test_postgres_restart_under_oms_project_is_waited_out_and_applies_nothing_twice(
    own_postgres: tuple[Settings, PostgresServer],
) -> None:
    settings, server = own_postgres
    apply_topics(
        settings, [s for s in registry(settings) if s.kind in (Kind.EVENTS, Kind.DEADLETTER)]
    )
    w.produce(settings, w.build(300).events)
    schema = "live"
    log = ROOT / ".pytest_cache" / f"project-outage-{os.getpid()}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        **kafka_environment(settings),  # as the admin: these topics have no ACLs
        "OMS_KAFKA_TOPIC_PREFIX": settings.kafka.topic_prefix,
        "OMS_KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "OMS_POSTGRES_DSN": settings.postgres.dsn,
        "OMS_RECOVERY_MAX_BACKOFF_S": "1",
        "OMS_LOG_FORMAT": "json",
    }
    args = [sys.executable, "-m", "oms_events.projection", *PROJECTIONS, "--schema", schema]
    total = lag(settings, schema)  # nothing applied yet: every record is lag
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*args, "--batch-size", "10"], env=env, cwd=ROOT, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 60
        while True:  # stop PostgreSQL mid-run: some batches committed, more to come
            time.sleep(0.005)
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the projection never committed a batch"
            if applied(settings, schema) > 0:
                break
        # Freeze the process between two commits while PostgreSQL goes away: a faster CI
        # box caught up between two polls when the test only raced it, proving nothing.
        proc.send_signal(signal.SIGSTOP)
        assert applied(settings, schema) < total, "caught up before the outage: nothing proved"
        server.stop()
        proc.send_signal(signal.SIGCONT)
        w.produce(settings, w.build(100, seed=11).events)  # events arrive meanwhile
        deadline = time.monotonic() + 30
        while "waiting for PostgreSQL" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no 'waiting for PostgreSQL' in the log"
            time.sleep(0.1)
        server.start()
        deadline = time.monotonic() + 90
        while lag(settings, schema) > 0:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the projection did not resume"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGCONT)  # a stopped process would not see the SIGTERM
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert code == 0, log.read_text()

    for p in select(list(PROJECTIONS)):
        rebuild(settings, p, "fresh")
    with psycopg.connect(settings.postgres.dsn) as pg:
        for t in TABLES:
            assert differences(pg, schema, "fresh", t) == 0, f"{t} differs from a fresh replay"
            count = pg.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, t))
            ).fetchone()
            assert count is not None and count[0] > 0, t
