"""Helpers for engine tests on the real broker: topics, stock, orders, reading the log."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from oms_events import eventlog, topics
from oms_events.avro.codec import SingleObjectCodec
from oms_events.engine.commands import (
    Command,
    PlaceOrder,
    ReceiveStock,
)
from oms_events.engine.records import CommandWriter
from oms_events.engine.runner import Engine
from oms_events.kafka.admin import apply_topics
from oms_events.kafka.connection import consumer, producer, read_to_end_with
from oms_events.kafka.port import Consumer, Record, TopicPartition
from oms_events.kafka.security import environment as kafka_environment
from oms_events.projection.migrate import migrate
from oms_events.projection.registry import select
from oms_events.projection.runner import Runner, connect
from oms_events.settings import Settings
from tests.integration.conftest import drop_topics
from tests.unit.engine.flow import place

CODEC = SingleObjectCodec()
EVENTS = eventlog.EventLog(CODEC)
ROOT = Path(__file__).resolve().parents[3]


def light(isolated: Settings, partitions: int = 3) -> Settings:
    """Settings with few partitions and every topic applied."""
    settings = isolated.replace(kafka={"partitions": partitions})
    apply_topics(settings)
    return settings


# Kafka timeouts of the engines under test, chosen rather than inherited:
# * session 6 s (the broker's minimum): a killed engine's member is dropped after it;
# * rebalance 20 s (max.poll.interval.ms): a member that sent JoinGroup and then died
#   holds the rebalance open this long (60 s by default), yet it stays far above one
#   loop iteration of a loaded engine (a batch, a partition rebuild: well under 5 s);
# * transaction 10 s: a killed engine's open transaction blocks read_committed readers
#   and committed(require_stable) at most this long plus the broker's 10 s abort sweep.
TEST_TIMEOUTS = {
    "session_timeout_ms": 6000,
    "rebalance_timeout_ms": 20_000,
    "transaction_timeout_ms": 10_000,
}


def engine_settings(settings: Settings, **overrides: Any) -> Settings:
    """``settings`` with the engine's test values: short Kafka timeouts (see TEST_TIMEOUTS)."""
    values: dict[str, Any] = dict(TEST_TIMEOUTS)
    values.update(overrides)
    return settings.replace(engine=values)


def receive(settings: Settings, stock: dict[tuple[str, str], int]) -> None:
    """Publish ReceiveStock for each (sku, location) -> quantity."""
    send(
        settings,
        [
            ReceiveStock(
                command_id=str(uuid.uuid4()),
                sku=sku,
                location=location,
                quantity=quantity,
                reason="test receipt",
            )
            for (sku, location), quantity in stock.items()
        ],
    )


def place_order(
    external_id: str,
    sku: str,
    quantity: int = 1,
    channel: str = "web",
    paid: bool = True,
    method: str = "alipay",
) -> PlaceOrder:
    """A PlaceOrder with one line (the unit tests' order, on the real broker)."""
    return place(external_id, [(sku, quantity)], paid=paid, method=method, channel=channel)


def send(settings: Settings, commands: Iterable[Command]) -> None:
    """Publish commands, each keyed by the aggregate it addresses."""
    writer = CommandWriter(settings, CODEC)
    p = producer(settings)
    for command in commands:
        r = writer.record(command)
        p.send(r.topic, key=r.key, value=r.value, headers=r.headers)
    p.flush()
    p.close()


def publish_orders(settings: Settings, orders: Iterable[PlaceOrder]) -> None:
    """Publish PlaceOrder commands keyed by order id."""
    send(settings, orders)


def read_topic(
    settings: Settings, topic: str, isolation_level: str = "read_committed"
) -> list[Record]:
    """Every record of ``topic`` an ``isolation_level`` reader sees, read up to its end
    offsets, partition by partition in log order."""
    c = consumer(settings, group_id=None, isolation=isolation_level, fetch_max_wait_ms=10)
    try:
        # settle_s: a read right after a commit waits for the commit's markers.
        return read_to_end_with(c, topic, settle_s=10, timeout_s=30)
    finally:
        c.close()


def read_events(settings: Settings, aggregate_type: str) -> list[eventlog.EventRecord]:
    """Every committed event of a type, decoded, in log order per partition."""
    topic = topics.name(settings, topics.events(aggregate_type))
    return [EVENTS.record(r) for r in read_topic(settings, topic)]


def order_outcomes(settings: Settings) -> dict[str, str]:
    """order id -> last status-deciding event name."""
    final = {
        "OrderConfirmed",
        "OrderAllocated",
        "OrderRejected",
        "OrderCancelled",
        "OrderShipped",
        "PreOrdered",
    }
    outcome: dict[str, str] = {}
    for e in read_events(settings, "order"):
        if e.name == "OrderPlaced":
            outcome.setdefault(str(e.originator_id), "placed")
        elif e.name in final:
            outcome[str(e.originator_id)] = e.name
    return outcome


def wait_for(check: Callable[[], bool], timeout: float, every: float = 1.0) -> bool:
    """Poll ``check`` until it is true or ``timeout`` seconds pass (never asserted on)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return check()


@dataclass
class StockAudit:
    """What the inventory events say, folded independently of the domain code."""

    on_hand: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    reserved: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    reservations: Counter[str] = field(default_factory=Counter)
    negative: list[str] = field(default_factory=list)


def audit_stock(events: list[eventlog.EventRecord]) -> StockAudit:
    """Fold inventory events; note any event after which available is below zero."""
    a = StockAudit()
    for e in events:
        item, p = str(e.originator_id), e.payload
        if e.name in ("StockReceived", "StockRestocked"):
            a.on_hand[item] += p["quantity"]
        elif e.name == "StockReserved":
            a.reserved[item] += p["quantity"]
            a.reservations[str(p["reservation_id"])] += 1
        elif e.name == "ReservationReleased":
            a.reserved[item] -= p["quantity"]
        elif e.name == "ReservationCommitted":
            a.reserved[item] -= p["quantity"]
            a.on_hand[item] -= p["quantity"]
        if a.on_hand[item] - a.reserved[item] < 0:
            a.negative.append(f"{item}@{e.offset}")
    return a


def engine_process(
    settings: Settings, *only: str, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``python -m oms_events.cli.run`` for these settings in a child process."""
    env = dict(os.environ)
    env.update(
        {
            "OMS_KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
            "OMS_KAFKA_TOPIC_PREFIX": settings.kafka.topic_prefix,
            "OMS_KAFKA_PARTITIONS": str(settings.kafka.partitions),
            **kafka_environment(settings),
            **{f"OMS_ENGINE_{k.upper()}": str(v) for k, v in TEST_TIMEOUTS.items()},
            "OMS_LOG_FORMAT": "json",
            # The key store sealing personal data, as the test's settings reach it.
            "OMS_POSTGRES_DSN": settings.postgres.dsn,
            "OMS_POSTGRES_MIGRATOR_DSN": settings.postgres.migrator_dsn,
            "OMS_PRIVACY_SCHEMA_NAME": settings.privacy.schema_name,
            "OMS_PRIVACY_MASTER_KEY_FILE": settings.privacy.master_key_file,
        }
    )
    env.update(extra_env or {})
    args = [sys.executable, "-m", "oms_events.cli.run", "--no-apply-topics"]
    for name in only:
        args += ["--only", name]
    # Engine logs stay beside pytest's cache for post-mortems (the folder may not exist yet
    # in a fresh clone: pytest creates it only when it first writes there).
    path = ROOT / ".pytest_cache" / f"engine-{uuid.uuid4().hex[:8]}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as log:
        proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = path  # type: ignore[attr-defined]
    return proc


# --- the contested-stock scenario ------------------------------------------------------

SKU = "HOT-1"
STOCK = {(SKU, "SH"): 34, (SKU, "BJ"): 33, (SKU, "GZ"): 33}  # 100 units over 3 locations
FINAL = ("OrderAllocated", "OrderRejected")


def stock_ready(settings: Settings) -> bool:
    """True once every receipt of STOCK is a committed event."""
    return sum(e.name == "StockReceived" for e in read_events(settings, "inventory")) == len(STOCK)


def publish_concurrently(
    settings: Settings, orders: int, producers: int = 3, prefix: str = "X"
) -> None:
    """``orders`` one-unit orders for SKU, split over ``producers`` threads at once."""
    import threading

    chunks = [
        [
            place_order(f"{prefix}{i}", SKU, channel=("web", "tmall", "jd")[i % 3])
            for i in range(n, orders, producers)
        ]
        for n in range(producers)
    ]
    threads = [threading.Thread(target=publish_orders, args=(settings, c)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


_gauge: tuple[str, Consumer] | None = None  # (topic prefix, consumer) of the last test


def order_events_written(settings: Settings) -> int:
    """Committed order events so far (sum of last stable offsets): a cheap progress gauge.

    One consumer serves every call of a test: fault tests poll this every 50 ms to
    kill an engine midway, and a new client per call would make them late.
    """
    global _gauge
    if _gauge is None or _gauge[0] != settings.kafka.topic_prefix:
        release_gauge()
        _gauge = (settings.kafka.topic_prefix, consumer(settings, group_id=None))
    topic = topics.name(settings, topics.events("order"))
    parts = [TopicPartition(topic, n) for n in range(settings.kafka.partitions)]
    return sum(_gauge[1].end_offsets(parts).values())


def release_gauge() -> None:
    """Close the gauge's consumer (after every test: see tests/conftest.py). Left open,
    it outlived a test whose own broker was stopped and reconnected to that dead
    address, hundreds of times a second, through the next tests (a CI run's cluster
    tests among them)."""
    global _gauge
    if _gauge is not None:
        _gauge[1].close()
        _gauge = None


def decided(settings: Settings) -> int:
    """How many orders reached a final outcome."""
    return sum(s in FINAL for s in order_outcomes(settings).values())


def log_stable(settings: Settings, *aggregate_types: str) -> bool:
    """True when no transaction is open on these types' events topics: the last stable
    offset (what read_committed readers reach) is the end of each partition."""
    for aggregate_type in aggregate_types:
        topic = topics.name(settings, topics.events(aggregate_type))
        parts = [TopicPartition(topic, n) for n in range(settings.kafka.partitions)]
        c = consumer(settings, group_id=None)
        try:
            if c.end_offsets(parts) != c.end_offsets(parts, stable=False):
                return False
        finally:
            c.close()
    return True


def check_contested_outcome(settings: Settings, orders: int) -> None:
    """The invariants of the scenario, from the committed events alone."""
    from oms_events.engine.partition import Partition

    # A killed engine's open transaction hides every later event of its partitions
    # from read_committed readers until the broker aborts it (transaction timeout,
    # then the broker's abort sweep: ~20 s here, see TEST_TIMEOUTS). The orders can
    # all be decided meanwhile if the dead transaction only reached an inventory
    # events partition, so an audit then sees too few reservations: audit a stable log.
    assert wait_for(lambda: log_stable(settings, "order", "inventory"), 90, 0.5), (
        "a transaction stayed open past the transaction timeout"
    )
    order_events = read_events(settings, "order")
    placed = Counter(str(e.originator_id) for e in order_events if e.name == "OrderPlaced")
    assert len(placed) == orders, "an order was lost"
    assert max(placed.values()) == 1, "an order was placed twice"
    versions = Counter((e.originator_id, e.originator_version) for e in order_events)
    assert max(versions.values()) == 1, "two writers appended the same order version"
    outcomes = order_outcomes(settings)
    assert set(outcomes.values()) <= set(FINAL), Counter(outcomes.values())
    assert Counter(outcomes.values())["OrderAllocated"] == 100

    inventory = read_events(settings, "inventory")
    stock = audit_stock(inventory)
    assert not stock.negative, f"available below zero at {stock.negative[:3]}"
    assert sum(stock.reserved.values()) == 100
    assert max(stock.reservations.values()) == 1, "a reservation id was reserved twice"
    assert len(stock.reservations) == 100
    iversions = Counter((e.originator_id, e.originator_version) for e in inventory)
    assert max(iversions.values()) == 1, "two writers appended the same item version"

    # A replay through the domain rebuilds the same state as the independent fold.
    state = Partition(0)
    for e in inventory:
        state.apply(EVENTS.to_domain_event(e), None)
    for item_id, item in state.aggregates.items():
        assert (item.on_hand, item.reserved) == (  # type: ignore[attr-defined]
            stock.on_hand[str(item_id)],
            stock.reserved[str(item_id)],
        )
    orders_state = Partition(0)
    for e in order_events:
        orders_state.apply(EVENTS.to_domain_event(e), None)
    status = Counter(o.status.value for o in orders_state.aggregates.values())  # type: ignore[attr-defined]
    assert status == {"allocated": 100, "rejected": orders - 100}


@contextlib.contextmanager
def projections_running(settings: Settings, schema: str, names: Sequence[str]) -> Iterator[None]:
    """The named projections applying into ``schema`` in threads beside the engine, as
    ``oms project`` runs them; stopped and their connections closed on exit."""

    stop = threading.Event()
    with contextlib.ExitStack() as stack:
        for p in select(list(names)):
            conn = stack.enter_context(connect(settings.postgres.dsn, schema, f"test-{p.name}"))
            migrate(conn, schema, [p])
            runner = Runner(settings, p, conn, batch_size=200, max_wait=0.05)
            stack.callback(runner.close)
            thread = threading.Thread(target=runner.run, args=(stop.is_set,), daemon=True)
            thread.start()
            stack.callback(thread.join, 30)
        stack.callback(stop.set)
        yield


@dataclass(frozen=True)
class EngineWorld:
    """An engine in threads, its topics and a projection schema, shared by a module."""

    settings: Settings
    engine: Engine
    schema: str


@contextlib.contextmanager
def engine_world(
    settings: Settings, stock: dict[tuple[str, str], int], projections: Sequence[str]
) -> Iterator[EngineWorld]:
    """Receive ``stock``, start the engine with ``projections`` beside it, and yield once
    the engine's stock view shows every receipt; then stop it, drop the schema and the
    topics, and check no processor failed."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    receive(settings, stock)
    engine = Engine(engine_settings(settings))
    engine.start()
    with contextlib.ExitStack() as stack:
        stack.enter_context(projections_running(settings, schema, projections))
        try:
            assert wait_for(
                lambda: all(engine.stock.available(s, loc) == q for (s, loc), q in stock.items()),
                60,
                0.2,
            )
            yield EngineWorld(settings, engine, schema)
        finally:
            engine.stop()
    with psycopg.connect(settings.postgres.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    drop_topics(settings)
    assert not engine.failed()


def oms_cli(world: EngineWorld, *args: str) -> tuple[int, str]:
    """Run ``oms ARGS`` against the world's topics and projection schema, in English:
    (exit code, output). (Several modules still have their own copy of this.)"""
    env = {
        **os.environ,
        "LANG": "en_US.UTF-8",
        "LC_ALL": "",
        "OMS_KAFKA_BOOTSTRAP_SERVERS": world.settings.kafka.bootstrap_servers,
        "OMS_KAFKA_TOPIC_PREFIX": world.settings.kafka.topic_prefix,
        "OMS_KAFKA_PARTITIONS": str(world.settings.kafka.partitions),
        "OMS_POSTGRES_DSN": world.settings.postgres.dsn,
        "OMS_PROJECTIONS_SCHEMA_NAME": world.schema,
        "OMS_LOG_LEVEL": "warning",
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [sys.executable, "-m", "oms_events.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr
