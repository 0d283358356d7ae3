"""What the outage fault tests share: ``oms run``, ``oms intake`` and ``oms project``
started as processes, orders sent as commands and through the POS channel before and
after Kafka is interrupted, the wait for every decision (failing with each process's
story when decisions stop), and the checks on the committed events. Used by
``test_broker_outage.py`` (one broker of the test's own, stopped and started) and
``test_cluster_faults.py`` (a node of a three-node cluster SIGKILLed and restarted)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

import psycopg
from psycopg import sql

from oms_events.kafka.security import environment as kafka_environment
from oms_events.projection.registry import select
from oms_events.projection.runner import connect
from oms_events.projection.status import PartitionLag, lags
from oms_events.settings import Settings
from tests.integration.engine.harness import (
    FINAL,
    SKU,
    STOCK,
    TEST_TIMEOUTS,
    audit_stock,
    log_stable,
    order_events_written,
    order_outcomes,
    place_order,
    publish_orders,
    read_events,
    wait_for,
)
from tests.integration.intake.conftest import pos_batch as receipts
from tests.integration.intake.conftest import send as deliver

Process = tuple[subprocess.Popen[bytes], Path]

ROOT = Path(__file__).resolve().parents[2]
PROJECTIONS = ("inventory", "tracking")
ORDERS = 150  # contested: 100 units of SKU for 150 one-unit orders
TOTAL = ORDERS + 40  # and 20 POS batches of 2 receipts through the intake
CHANNEL_SKU = "SKU-TEA-001"  # what the POS barcode below maps to (intake/skus.json)
# A JVM on a busy 2-core box can take minutes to serve again: wait that long, no longer.
RESTART_S = 300
# Decisions after the restart are waited for as long as they keep coming; this long
# without one (the broker serving) is a stuck engine, and the test says where it stands.
STALL_S = 90


def start(settings: Settings, name: str, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    """``python -m <args>`` against the test's broker, its log beside pytest's cache."""
    env = {
        **os.environ,
        **kafka_environment(settings),  # as the admin of this broker, as the fixture is
        "OMS_KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "OMS_KAFKA_TOPIC_PREFIX": settings.kafka.topic_prefix,
        "OMS_KAFKA_PARTITIONS": str(settings.kafka.partitions),
        "OMS_DEV_DATA_DIR": str(settings.dev.data_dir),
        # The data dir above is the broker's: PostgreSQL's roles and the key store's
        # master key are not found from it.
        "OMS_POSTGRES_DSN": settings.postgres.dsn,
        "OMS_POSTGRES_MIGRATOR_DSN": settings.postgres.migrator_dsn,
        "OMS_PRIVACY_SCHEMA_NAME": settings.privacy.schema_name,
        "OMS_PRIVACY_MASTER_KEY_FILE": settings.privacy.master_key_file,
        **{f"OMS_ENGINE_{k.upper()}": str(v) for k, v in TEST_TIMEOUTS.items()},
        "OMS_RECOVERY_MAX_BACKOFF_S": "2",
        "OMS_LOG_FORMAT": "json",
    }
    log = ROOT / ".pytest_cache" / f"outage-{name}-{uuid.uuid4().hex[:8]}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", *args], env=env, cwd=ROOT, stdout=out, stderr=out
        )
    return proc, log


def met_outage(log: Path, mark: int) -> bool:
    """True once the log shows, after offset ``mark``, a client that lost the broker."""
    with log.open("rb") as f:
        f.seek(mark)
        text = f.read().decode(errors="replace")
    return any(sign in text for sign in ("Connection refused", "SESSTMOUT", "waiting for Kafka"))


def tail_lines(log: Path, n: int = 15) -> str:
    """The last ``n`` lines of a process log, the reconnect noise left out."""
    lines = [
        line[:400]
        for line in log.read_text(errors="replace").splitlines()
        if "Connection refused" not in line
    ]
    return "\n".join(lines[-n:])


def stacks(pid: int) -> str:
    """Every thread's Python stack in process ``pid`` (py-spy, a dev dependency)."""
    spy = Path(sys.executable).with_name("py-spy")
    try:
        dump = subprocess.run(
            [str(spy), "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"(no stacks: {exc})"
    return dump.stdout + dump.stderr


def wait_decided(
    settings: Settings, serving: float, procs: dict[str, tuple[subprocess.Popen[bytes], Path]]
) -> tuple[float, float]:
    """Wait until every order is decided while decisions keep coming: fail once none came
    for STALL_S (counted from when the broker served again), or at once if a process
    exits. Returns the seconds from serving to the first new decision and to the last."""
    before = sum(o in FINAL for o in order_outcomes(settings).values())
    seen, progress = before, serving
    first: float | None = None
    while True:
        exited = {n: p.returncode for n, (p, _) in procs.items() if p.poll() is not None}
        outcomes = order_outcomes(settings)
        decided = sum(o in FINAL for o in outcomes.values())
        now = time.monotonic()
        if decided > seen:
            seen, progress = decided, now
            first = now - serving if first is None else first
        if not exited and len(outcomes) == TOTAL and decided == TOTAL:
            return (now - serving if first is None else first), now - serving
        if exited or now - progress > STALL_S:
            undecided = sorted(o for o, state in outcomes.items() if state not in FINAL)
            story = [
                f"exited: {exited}" if exited else f"no order decided for {STALL_S} s",
                f"{decided}/{TOTAL} decided ({before} before the outage), {TOTAL - len(outcomes)} "
                f"never placed, {Counter(outcomes.values())}; placed, undecided: {undecided[:10]}",
                *(f"--- {n} (last lines)\n{tail_lines(log)}" for n, (_, log) in procs.items()),
            ]
            alive = [(n, p.pid) for n, (p, _) in procs.items() if n not in exited]
            story += [f"--- {n} threads\n{stacks(pid)}" for n, pid in alive]
            raise AssertionError("\n".join(story))
        time.sleep(1.0)


def partition_lags(settings: Settings, schema: str) -> list[PartitionLag]:
    with connect(settings.postgres.dsn, schema, "test") as conn:
        return lags(settings, conn, schema, select(list(PROJECTIONS)))


def lag(settings: Settings, schema: str) -> int:
    return sum(r.lag for r in partition_lags(settings, schema))


def ride_out(
    settings: Settings,
    schema: str,
    procs: Mapping[str, Process],
    interrupt: Callable[[], object],
    resume: Callable[[], object],
) -> str:
    """Half the orders and receipts, ``interrupt`` (Kafka gone, wholly or in part) once
    some are decided, ``resume``, the other half; then wait until every order is decided
    and the projections caught up, no process having exited. Returns the figures line
    (shown with ``pytest -rP``); the processes are left running."""

    def logs() -> str:
        return "\n".join(f"--- {n}\n{log.read_text()[-2000:]}" for n, (_, log) in procs.items())

    # Stock arrives long before orders in life. Here the receipts went out just before
    # the processes started: orders sent before the inventory's first commit find an
    # empty stock view and are all rejected (stock.no_location), an outage or not.
    assert wait_for(lambda: received(settings) >= len(STOCK), 90, 0.2), logs()
    publish_orders(settings, [place_order(f"X{i}", SKU) for i in range(0, ORDERS, 2)])
    deliver(settings, "pos", [receipts(f"S{s}", range(1, 3)) for s in range(10)])
    assert wait_for(lambda: order_events_written(settings) >= 20, 90, 0.05), logs()
    engine_log = next(log for name, (_, log) in procs.items() if name.startswith("engine"))
    mark = engine_log.stat().st_size
    interrupt()
    stopped = time.monotonic()
    # The processes meet the outage: their clients fail to reconnect, or their group
    # sessions run out (librdkafka's lines reach the log only when a client is polled,
    # so the first sign varies with what each thread was doing).
    assert wait_for(lambda: met_outage(engine_log, mark), 30, 0.2), logs()
    assert all(p.poll() is None for p, _ in procs.values()), logs()
    resume()
    serving = time.monotonic()
    publish_orders(settings, [place_order(f"X{i}", SKU) for i in range(1, ORDERS, 2)])
    deliver(settings, "pos", [receipts(f"S{s}", range(1, 3)) for s in range(10, 20)])
    first, last = wait_decided(settings, serving, dict(procs))
    if not wait_for(lambda: lag(settings, schema) == 0, 60, 0.5):
        behind = [r for r in partition_lags(settings, schema) if r.lag]
        pids = [p.pid for name, (p, _) in procs.items() if name.startswith("project")]
        raise AssertionError(
            f"projections behind: {behind}\n{logs()}\n" + "\n".join(stacks(p) for p in pids)
        )
    assert all(p.poll() is None for p, _ in procs.values()), logs()  # none exited
    return (
        f"Kafka back {serving - stopped:.1f} s after the interruption; first decision "
        f"{first:.1f} s after that, all {TOTAL} decided at {last:.1f} s"
    )


def stop_all(settings: Settings, schema: str, procs: Mapping[str, Process]) -> dict[str, int]:
    """SIGTERM every process and drop the projections' schema; the exit codes."""
    codes: dict[str, int] = {}
    for proc, _ in procs.values():
        proc.send_signal(signal.SIGTERM)
    for name, (proc, _) in procs.items():
        try:
            codes[name] = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            codes[name] = proc.wait()
    with psycopg.connect(settings.postgres.dsn, autocommit=True) as pg:
        pg.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    return codes


def received(settings: Settings) -> int:
    """Stock receipts the inventory has committed."""
    return sum(e.name == "StockReceived" for e in read_events(settings, "inventory"))


def check_orders(settings: Settings) -> None:
    """Every order placed once and decided once; the contested stock shared exactly."""
    assert wait_for(lambda: log_stable(settings, "order", "inventory"), 90, 0.5)
    orders = read_events(settings, "order")
    placed = Counter(str(e.originator_id) for e in orders if e.name == "OrderPlaced")
    assert len(placed) == TOTAL and set(placed.values()) == {1}
    decisions = Counter(str(e.originator_id) for e in orders if e.name in FINAL)
    assert set(decisions) == set(placed) and set(decisions.values()) == {1}
    # HOT-1: 100 units for its 150 orders, never more. Not always all 100: after some
    # restarts the order saga's stock view reports no location for units the inventory
    # still has (OrderRejected "stock.no_location" with 90 of 100 allocated; followed up
    # apart). No unit may stay held for a rejected order: reserved == allocated below.
    outcomes = order_outcomes(settings)
    skus = {
        str(e.originator_id): e.payload["lines"][0]["sku"]
        for e in orders
        if e.name == "OrderPlaced"
    }
    contested = Counter(o for order, o in outcomes.items() if skus[order] == SKU)
    reasons = Counter(e.payload["reason"] for e in orders if e.name == "OrderRejected")
    assert contested["OrderAllocated"] <= 100, reasons
    assert contested["OrderAllocated"] + contested["OrderRejected"] == ORDERS, contested
    allocated = Counter(outcomes.values())["OrderAllocated"]
    stock = audit_stock(read_events(settings, "inventory"))
    assert not stock.negative and sum(stock.reserved.values()) == allocated
    assert allocated, f"no order was allocated: {reasons}"
    assert set(stock.reservations.values()) == {1}, "a reservation was made twice"
