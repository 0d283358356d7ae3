"""A what-if run on the real engine: the window's recorded demand and supply, replayed
one record at a time into a fork (its own topic prefix and projection schema) where
the engine sources by the what-if's rules file, then compared with what happened.

The live topics are only read (group-less, read_committed consumers: no offsets are
committed anywhere live); every write goes to topics under the fork's prefix.

Deterministic: the fork starts from the stock available at the window's start, then
gets each recorded command in recorded order (timestamp, then topic, partition,
offset) only once everything the previous one caused has settled (no transaction
open, every processor past every record, the stock view past every inventory event,
the timers looked at the recorded time). The engine's timers (reservation expiry,
pre-orders asking again) run on a replay clock set to each record's recorded time, so
the wall clock never decides anything.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from oms_events import eventlog, topics
from oms_events.avro.codec import Codec
from oms_events.avro.registry import codec_from_settings
from oms_events.domain.inventory import InventoryItem
from oms_events.engine import bundles
from oms_events.engine.commands import ReceiveStock
from oms_events.engine.records import CommandWriter
from oms_events.engine.runner import Engine
from oms_events.engine.snapshots import Partition
from oms_events.fulfilment import rules as rules_file
from oms_events.kafka.admin import apply_topics
from oms_events.kafka.connection import admin, consumer, producer, read_to_end
from oms_events.kafka.errors import KafkaError
from oms_events.kafka.port import Consumer, Headers, Record, TopicPartition
from oms_events.projection.migrate import migrate
from oms_events.projection.registry import select
from oms_events.projection.runner import Runner, connect
from oms_events.settings import Settings
from oms_events.whatif import WhatIfError
from oms_events.whatif.comparison import Comparison, compare
from oms_events.whatif.outcomes import OrderOutcome, StockSample, order_outcomes, stock_outs

# The recorded demand and supply a fork replays; everything else on the command topics
# (reservations, replies, shipments) is the engine's own doing and is redone by it.
# Operators' holds, reviews and edits are demand too (a held order waits for its
# release in the fork as it did live); a reroute is a sourcing decision: not replayed.
DEMAND = (
    "PlaceOrder",
    "ChangeOrder",
    "CancelOrder",
    "RecordPayment",
    "RecordOfflinePayment",
    "HoldOrder",
    "ReleaseOrder",
    "ReviewOrder",
    "EditOrder",
)
SUPPLY = (
    "ReceiveStock",
    "AdjustStock",
    "CountStock",
    "TransferStock",
    "ExpectTransfer",
    "ReceiveTransfer",
    "SetThreshold",
)
PROCESSORS = ("inventory", "order")  # the fork needs no warehouse, carrier or payment
PROJECTIONS = ("inventory", "tracking")  # what an operator reads in the fork's schema
SETTLE_TIMEOUT_S = 120.0

Progress = Callable[[int, int], None]  # (records replayed, of total)


@dataclass(frozen=True)
class Recorded:
    """One recorded command of the window, as it was on the live topic."""

    aggregate_type: str  # order | inventory
    name: str  # PlaceOrder, ReceiveStock, ...
    key: bytes | None
    value: bytes
    headers: Headers
    timestamp: int  # epoch ms, as recorded
    partition: int
    offset: int

    @property
    def order(self) -> tuple[int, int, int, int]:
        """Replay order: recorded time; supply before demand at the same millisecond."""
        return (self.timestamp, self.aggregate_type == "order", self.partition, self.offset)


@dataclass(frozen=True)
class History:
    """What the live log holds of the window."""

    records: tuple[Recorded, ...]  # to replay, in replay order
    opening: dict[tuple[str, str], int]  # (sku, location) -> available at the start
    orders: dict[str, OrderOutcome]  # what the window's orders came to by its end
    stock_outs: int


@dataclass(frozen=True)
class Result:
    """A what-if run: the comparison, and where the fork was."""

    comparison: Comparison
    history: History
    whatif: dict[str, OrderOutcome]
    prefix: str  # the fork's topic prefix
    schema: str  # the fork's projection schema
    kept: bool
    seconds: float  # replay only (fork set up to settled)


# --- reading the live log ----------------------------------------------------------------


def _commands(settings: Settings, codec: Codec, first_ms: int, last_ms: int) -> list[Recorded]:
    recorded: list[Recorded] = []
    for aggregate_type, names in (("inventory", SUPPLY), ("order", DEMAND)):
        topic = topics.name(settings, topics.commands(aggregate_type))
        # A bundle's parts (engine/bundles.py): an ExpectTransfer, a RecordPayment.
        read = read_to_end(settings, topic, first_ms)
        for r in (part for record in read for part in bundles.parts(codec, record)):
            if r.timestamp >= last_ms or r.value is None:
                continue
            try:
                name = codec.decode(r.value)[0].rsplit(".", 1)[-1]
            except Exception:  # bad input was dead-lettered live; nothing to replay
                continue
            if name in names:
                recorded.append(
                    Recorded(
                        aggregate_type,
                        name,
                        r.key,
                        r.value,
                        list(r.headers),
                        r.timestamp,
                        r.partition,
                        r.offset,
                    )
                )
    placed = {r.key for r in recorded if r.name == "PlaceOrder"}
    # A change, cancellation or payment of an order placed before the window has no
    # order in the fork: it is left out, like the order.
    kept = [r for r in recorded if r.aggregate_type == "inventory" or r.key in placed]
    return sorted(kept, key=lambda r: r.order)


def _samples(
    events: Iterable[Record], log: eventlog.EventLog, opening_before_ms: int | None
) -> tuple[dict[tuple[str, str], int], list[tuple[int, StockSample]]]:
    """Fold inventory events through the domain, in log order (an item's events are on
    one partition): the units available per item before ``opening_before_ms`` (None:
    no opening), and a sample after each later event."""
    state = Partition(0)
    opening: dict[tuple[str, str], int] = {}
    samples: list[tuple[int, StockSample]] = []
    for r in events:
        e = log.record(r)
        state.apply(log.to_domain_event(e), None)
        item = state.aggregates.get(e.originator_id)
        if not isinstance(item, InventoryItem):
            continue
        if opening_before_ms is not None and r.timestamp < opening_before_ms:
            opening[(item.sku, item.location)] = item.available
        else:
            sample = StockSample(item.sku, item.location, e.name, item.available)
            samples.append((r.timestamp, sample))
    return opening, samples


def read_history(settings: Settings, codec: Codec, first_ms: int, last_ms: int) -> History:
    """The window [first_ms, last_ms) of the live log: what to replay, the stock it
    opened with, and what its orders and stock came to by its end."""
    log = eventlog.EventLog(codec, settings=settings)
    records = _commands(settings, codec, first_ms, last_ms)
    inventory = read_to_end(settings, topics.name(settings, topics.events("inventory")))
    opening, samples = _samples(inventory, log, first_ms)
    in_window = [s for at, s in samples if at < last_ms]
    placed = {r.key.decode() for r in records if r.name == "PlaceOrder" and r.key}
    order_events = [
        log.record(r)
        for r in read_to_end(settings, topics.name(settings, topics.events("order")))
        if r.timestamp < last_ms and r.key is not None and r.key.decode() in placed
    ]
    return History(
        tuple(records),
        opening,
        order_outcomes(order_events, placed),
        stock_outs(in_window, opening),
    )


# --- the fork ------------------------------------------------------------------------------


class ReplayClock:
    """The engine's clock in a fork: the recorded time of the record being replayed."""

    def __init__(self, at_ms: int) -> None:
        self.at = at_ms / 1000

    def __call__(self) -> float:
        return self.at

    def set(self, at_ms: int) -> None:
        """Move to ``at_ms`` (epoch ms); never backwards."""
        self.at = max(self.at, at_ms / 1000)


def fork_settings(live: Settings, rules: Path, run_id: str) -> Settings:
    """The fork's settings: topics under ``<live prefix>whatif-<run>.`` (one partition
    each: one order after another anyway), the what-if's rules, short polls."""
    return live.replace(
        kafka={"topic_prefix": f"{live.kafka.topic_prefix}whatif-{run_id}.", "partitions": 1},
        fulfilment={"rules": rules},
        engine={"fetch_max_wait_ms": 20, "ttl_check_ms": 10, "linger_ms": 0},
    )


class Settled:
    """Tells when the fork has done everything the records so far caused."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.engine = engine
        self.reader = consumer(settings, group_id=None, fetch_max_wait_ms=10)
        inputs = {t: topics.name(settings, topics.commands(t)) for t in PROCESSORS}
        self.events = topics.name(settings, topics.events("inventory"))
        watched = [*inputs.values(), self.events, topics.name(settings, topics.events("order"))]
        self.parts = [TopicPartition(t, 0) for t in watched]
        self.reader.assign(self.parts)
        self.reader.seek_to_beginning(*self.parts)
        self.last: dict[TopicPartition, int] = dict.fromkeys(self.parts, 0)  # data offset + 1
        group = f"{settings.kafka.topic_prefix}{settings.engine.group}"
        self.groups: dict[TopicPartition, Consumer] = {
            TopicPartition(topic, 0): consumer(settings, group_id=f"{group}.{name}")
            for name, topic in inputs.items()
        }
        self.timers = next(p for p in engine.processors if p.service.name == "order")

    def close(self) -> None:
        """Close the clients."""
        for c in (self.reader, *self.groups.values()):
            c.close()

    def _quiet(self) -> dict[TopicPartition, int] | None:
        """The end offsets when nothing is in flight (no open transaction, every
        processor and the stock view past every record), else None."""
        ends = self.reader.end_offsets(self.parts)
        if ends != self.reader.end_offsets(self.parts, stable=False):
            return None  # a transaction is open
        deadline = time.monotonic() + 5
        while any(self.reader.position(tp) < ends[tp] for tp in self.parts):
            for tp, batch in self.reader.poll(timeout_ms=20).items():
                if batch:
                    self.last[tp] = max(self.last[tp], batch[-1].offset + 1)
            if time.monotonic() > deadline:
                return None
        for tp, group in self.groups.items():
            if (group.committed(tp) or 0) < self.last[tp]:
                return None
        watcher = self.engine.watcher
        if watcher is None or watcher.positions.get(0, 0) < ends[TopicPartition(self.events, 0)]:
            return None
        # Nothing was written while we looked (a commit in between would show here).
        return ends if self.reader.end_offsets(self.parts, stable=False) == ends else None

    def wait(self, timeout: float = SETTLE_TIMEOUT_S) -> None:
        """Return once settled: quiet, then a whole look of the timers at the clock's
        time (it began after the quiet: it saw every effect) that changed nothing.
        WhatIfError when a processor failed or time ran out."""
        deadline = time.monotonic() + timeout
        while True:
            ends = self._quiet()
            if ends is not None:
                looks = self.timers.timer_looks
                while self.timers.timer_looks < looks + 2:
                    self._check(deadline, timeout)
                    time.sleep(0.002)
                if self._quiet() == ends:
                    return
            self._check(deadline, timeout)
            time.sleep(0.005)

    def _check(self, deadline: float, timeout: float) -> None:
        if self.engine.failed():
            raise WhatIfError("a fork processor failed; see the log, fix and run the what-if again")
        if time.monotonic() > deadline:
            raise WhatIfError(
                f"the fork did not settle within {timeout:.0f} s; is Kafka overloaded?"
            )


def _opening_stock(opening: dict[tuple[str, str], int]) -> list[ReceiveStock]:
    return [
        ReceiveStock(
            command_id=f"whatif-opening/{sku}/{location}",
            sku=sku,
            location=location,
            quantity=quantity,
            reason="what-if opening stock",
        )
        for (sku, location), quantity in sorted(opening.items())
        if quantity > 0
    ]


def replay(
    fork: Settings,
    codec: Codec,
    history: History,
    first_ms: int,
    last_ms: int,
    progress: Progress | None = None,
) -> None:
    """Run the engine on the fork's topics and feed it the window, one settled step at
    a time; return once the fork's clock has reached the window's end."""
    clock = ReplayClock(first_ms)
    engine = Engine(fork, only=PROCESSORS, codec=codec, clock=clock)
    engine.start()
    settled = Settled(fork, engine)
    p = producer(fork)
    writer = CommandWriter(fork, codec)
    total = len(history.records)
    try:
        for command in _opening_stock(history.opening):
            r = writer.record(command)
            p.send(r.topic, key=r.key, value=r.value, headers=r.headers)
        p.flush()
        settled.wait()
        names = {t: topics.name(fork, topics.commands(t)) for t in PROCESSORS}
        for n, record in enumerate(history.records, 1):
            clock.set(record.timestamp)
            settled.wait()  # timers due by now have fired before the record arrives
            p.send(
                names[record.aggregate_type],
                key=record.key,
                value=record.value,
                headers=record.headers,
            )
            p.flush()
            settled.wait()
            if progress is not None:
                progress(n, total)
        clock.set(last_ms)
        settled.wait()
    finally:
        p.close()
        settled.close()
        engine.stop()


def fork_outcomes(
    fork: Settings, codec: Codec, history: History
) -> tuple[dict[str, OrderOutcome], int]:
    """What the window's orders came to in the fork, and its stock-outs."""
    log = eventlog.EventLog(codec, settings=fork)
    orders = order_outcomes(
        [log.record(r) for r in read_to_end(fork, topics.name(fork, topics.events("order")))],
        history.orders,
    )
    _, samples = _samples(
        read_to_end(fork, topics.name(fork, topics.events("inventory"))), log, None
    )
    return orders, stock_outs((s for _, s in samples), history.opening)


def project(fork: Settings, schema: str, names: Sequence[str] = PROJECTIONS) -> None:
    """Apply the fork's events to ``names`` in ``schema`` (for psql with --keep)."""
    for projection in select(list(names)):
        # The migrator's: the fork's schema is made here and dropped by clean_up.
        with connect(fork.postgres.migrator_dsn, schema, f"whatif-{projection.name}") as conn:
            migrate(conn, schema, [projection])
            runner = Runner(
                fork, projection, conn, batch_size=2000, max_wait=0.05, dead_letters=False
            )
            try:
                runner.catch_up()
            finally:
                runner.close()


def clean_up(fork: Settings, schema: str) -> None:
    """Delete the fork's topics and drop its schema."""
    client = admin(fork)
    try:
        names = [n for n in client.list_topics() if n.startswith(fork.kafka.topic_prefix)]
        if names:
            with contextlib.suppress(KafkaError):
                client.delete_topics(names)
    finally:
        client.close()
    with psycopg.connect(fork.postgres.migrator_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def whatif(
    live: Settings,
    rules: Path,
    first_ms: int,
    last_ms: int,
    *,
    keep: bool = False,
    progress: Progress | None = None,
    run_id: str | None = None,
) -> Result:
    """Replay the window [first_ms, last_ms) of ``live`` through ``rules`` on a fork and
    compare it with what happened. The fork's topics and schema are removed at the end
    unless ``keep``."""
    if last_ms <= first_ms:
        raise WhatIfError(
            "--to must be after --from; give a window such as --from 2026-11-01 --to 2026-12-01"
        )
    parsed = rules_file.load(rules)
    codec = codec_from_settings(live)
    history = read_history(live, codec, first_ms, last_ms)
    if not history.orders:
        raise WhatIfError(
            f"no order was placed on {topics.name(live, topics.commands('order'))} in the "
            "window; check --from and --to (a time without an offset is UTC)"
        )
    run = run_id or uuid.uuid4().hex[:8]
    fork = fork_settings(live, rules, run)
    schema = f"whatif_{run}"
    try:
        apply_topics(fork)
        started = time.monotonic()
        replay(fork, codec, history, first_ms, last_ms, progress)
        seconds = time.monotonic() - started
        orders, outs = fork_outcomes(fork, codec, history)
        project(fork, schema)
    finally:
        if not keep:
            clean_up(fork, schema)
    comparison = compare(history.orders, orders, parsed, (history.stock_outs, outs))
    return Result(comparison, history, orders, fork.kafka.topic_prefix, schema, keep, seconds)


def as_dict(result: Result) -> dict[str, Any]:
    """The result as JSON-ready data (``oms whatif --json``)."""
    c = result.comparison
    return {
        "orders": len(result.history.orders),
        "replayed": len(result.history.records),
        "seconds": round(result.seconds, 3),
        "fork": {"topic_prefix": result.prefix, "schema": result.schema, "kept": result.kept},
        "stock_outs": {"actual": c.actual.stock_outs, "whatif": c.whatif.stock_outs},
        "changed_orders": list(c.changed),
        "rows": {
            by: [
                {"group": g, "metric": m, "actual": a, "whatif": w, "difference": d}
                for g, m, a, w, d in c.rows(by)
            ]
            for by in ("total", "channel", "region")
        },
    }
