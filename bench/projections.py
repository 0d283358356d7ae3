"""Events per second into PostgreSQL for one projection: live, replay, baseline.

    .venv/bin/python -m bench.projections [--projection inventory] [--events 100000]
                                          [--batch-size 5000] [--baseline 3000]

Produces events made by real aggregates to topics of their own (unique prefix):
for ``inventory``, receipts, reservations and commits of 500 items; for
``tracking``, orders and their shipments from placement to delivery, 9,000 of
them in flight at once (within the default row cache of 10,000), so each batch
touches rows that earlier batches wrote. Then times, in one run:

* live: ``oms project``'s runner from offset 0 to the end, batches of 5,000
  (``--batch-size``: a live projection at a moderate rate commits smaller ones, in
  which an order rarely appears twice);
* replay: ``oms replay``'s rebuild into a fresh schema and the swap;
* baseline: the same runner writing one transaction per event (batch size 1),
  over the first ``--baseline`` events.

Prints events/s, the ratio to the baseline, p50/p99 batch latency, the live run's
CPU per event (this process and its PostgreSQL backend, read from ``/proc``: the
figures to compare before/after on a busy machine), the replay's CPU per event in
this process, and peak RSS.
Needs the dev services (``oms dev up``); cleans up its topics and schemas.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from bench.events import produce
from psycopg import sql

from oms_events.domain import (
    Address,
    Customer,
    InventoryItem,
    Money,
    Order,
    OrderLine,
    PaymentMethod,
    Shipment,
    ShipmentLine,
)
from oms_events.kafka.admin import apply_topics
from oms_events.kafka.connection import admin
from oms_events.projection.migrate import migrate
from oms_events.projection.registry import select
from oms_events.projection.replay import rebuild
from oms_events.projection.runner import Runner, connect
from oms_events.settings import Settings
from oms_events.topics import Kind, registry


def make_events(projection: str, n: int) -> list[Any]:
    """About ``n`` events the projection reads."""
    if projection == "tracking":
        return in_flight(order_events(n))
    return inventory_events(n)


def order_events(n: int) -> list[Any]:
    """About ``n`` order and shipment events: each order of two lines placed, reserved,
    confirmed, allocated, shipped and delivered (14 events with its shipment's)."""
    events: list[Any] = []
    for i in range(n // 14):
        lines = [
            OrderLine(k, f"SKU-{(i + k) % 50:04d}", k, Money(1000 * k, "CNY"), Money(0, "CNY"), ())
            for k in (1, 2)
        ]
        order = Order.place(
            order_no=f"BENCH-{i:06d}",
            channel="web",
            external_id=f"B{i}",
            customer=Customer(f"客户{i % 50}", f"138{i % 50:08d}", f"acct{i % 50}"),
            address=Address("文三路 90 号", "CN", "杭州市", "浙江省", "西湖区"),
            lines=lines,
            payment_method=PaymentMethod.ALIPAY,
            placed_at=datetime.now(UTC),
        )
        for line in lines:
            order.reserve_line(line.line_no, order.reservation_id(line.line_no), "WH-1")
        order.confirm()
        order.allocate()
        shipment = Shipment.create(
            order.id,
            "WH-1",
            [
                ShipmentLine(ln.line_no, ln.sku, ln.quantity, order.reservation_id(ln.line_no))
                for ln in lines
            ],
        )
        shipment.pick()
        shipment.pack()
        shipment.ship("SF", f"SF{i:08d}")
        for line in lines:
            order.ship_line(line.line_no, str(shipment.id))
        shipment.deliver()
        order.deliver()
        events += order.collect_events() + shipment.collect_events()
    return events


def in_flight(events: list[Any], at_once: int = 9000) -> list[Any]:
    """``events`` with ``at_once`` aggregates alive together, each moving one event in turn.

    As in production, an order's life (placed, confirmed, allocated, shipped…) then
    spans many batches, and each batch touches rows that earlier ones wrote.
    """
    lives: dict[Any, list[Any]] = {}
    for e in events:
        lives.setdefault(e.originator_id, []).append(e)
    waves = list(lives.values())
    out: list[Any] = []
    for start in range(0, len(waves), at_once):
        wave = waves[start : start + at_once]
        for step in range(max(len(life) for life in wave)):
            out += [life[step] for life in wave if step < len(life)]
    return out


def inventory_events(n: int) -> list[Any]:
    """About ``n`` inventory events: receipts, reservations, commits and releases."""
    items = [InventoryItem.register(f"SKU-{i:04d}", f"WH-{i % 4}", 5) for i in range(500)]
    events: list[Any] = []
    for item in items:
        item.receive(10**9, "opening stock")
        events += item.collect_events()
    k = 0
    while len(events) < n:
        item = items[k % len(items)]
        rid = uuid.uuid4()
        item.reserve(rid, uuid.uuid4(), 1 + k % 3)
        if k % 5:
            item.commit(rid)
        else:
            item.release(rid)
        events += item.collect_events()
        k += 1
    return events


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) a PostgreSQL backend of this machine has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Live:
    """A finished run and the CPU it took: this process, and its PostgreSQL backend."""

    runner: Runner
    cpu: float
    db_cpu: float

    def per_event(self) -> tuple[float, float]:
        """(process, PostgreSQL) CPU per event in microseconds."""
        n = self.runner.metrics.events
        return self.cpu / n * 1e6, self.db_cpu / n * 1e6


def run_live(
    settings: Settings,
    name: str,
    schema: str,
    batch_size: int,
    limit: int | None = None,
) -> Live:
    """Run the projection's runner from 0 to the end (or ``limit`` events)."""
    projection = select([name])[0]
    conn = connect(settings.postgres.migrator_dsn, schema, f"bench-{batch_size}")
    migrate(conn, schema, [projection])
    runner = Runner(settings, projection, conn, batch_size=batch_size, max_wait=0.05)
    pid = conn.info.backend_pid
    cpu, db_cpu = time.process_time(), backend_cpu(pid)
    runner.metrics.started = time.monotonic()
    if limit is None:
        runner.catch_up()
    else:
        while runner.metrics.events < limit:
            runner.step()
    live = Live(runner, time.process_time() - cpu, backend_cpu(pid) - db_cpu)
    runner.close()
    conn.close()
    return live


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--projection", choices=("inventory", "tracking"), default="inventory")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=5000, help="Live run's batch size.")
    parser.add_argument("--baseline", type=int, default=3_000)
    args = parser.parse_args()

    prefix = f"bench{uuid.uuid4().hex[:6]}."
    settings = Settings().replace(kafka={"topic_prefix": prefix})
    specs = [s for s in registry(settings) if s.kind in (Kind.EVENTS, Kind.DEADLETTER)]
    apply_topics(settings, specs)
    schemas = [f"bench_{uuid.uuid4().hex[:6]}_{x}" for x in ("live", "replay", "base")]
    try:
        t = time.monotonic()
        events = make_events(args.projection, args.events)
        produce(settings, events, per_transaction=5000)
        print(
            f"produced {len(events):,} events for {args.projection} in {time.monotonic() - t:.1f} s"
        )

        live = run_live(settings, args.projection, schemas[0], args.batch_size)
        live_rate = live.runner.metrics.events / (time.monotonic() - live.runner.metrics.started)

        t, cpu = time.monotonic(), time.process_time()
        result = rebuild(settings, select([args.projection])[0], schemas[1])
        replay_rate = result.events / (time.monotonic() - t)
        replay_cpu = (time.process_time() - cpu) / result.events * 1e6

        base = run_live(settings, args.projection, schemas[2], 1, limit=args.baseline)
        base_rate = base.runner.metrics.events / (time.monotonic() - base.runner.metrics.started)

        m = live.runner.metrics
        print(
            f"live      {live_rate:>10,.0f} events/s  ({m.events:,} events, {m.batches} "
            f"transactions; batch p50 {m.p50() * 1000:.1f} ms, p99 {m.p99() * 1000:.1f} ms)"
        )
        own, db = live.per_event()
        print(
            f"live CPU  {own:>10.1f} µs/event in this process, {db:.1f} µs/event in its "
            "PostgreSQL backend (less sensitive to the machine's load than events/s)"
        )
        print(
            f"replay    {replay_rate:>10,.0f} events/s  ({result.events:,} events, rebuild + swap; "
            f"{replay_cpu:.1f} µs/event of CPU in this process, all threads)"
        )
        print(
            f"baseline  {base_rate:>10,.0f} events/s  ({base.runner.metrics.events:,} events, "
            f"one transaction each; p50 {base.runner.metrics.p50() * 1000:.2f} ms, "
            f"p99 {base.runner.metrics.p99() * 1000:.2f} ms)"
        )
        print(
            f"ratio     live {live_rate / base_rate:.0f}x, replay {replay_rate / base_rate:.0f}x "
            "the baseline"
        )
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS  {rss:.0f} MiB (whole process, events held in memory to produce them)")
    finally:
        with psycopg.connect(settings.postgres.migrator_dsn, autocommit=True) as conn:
            for s in schemas:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(s)))
        client = admin(settings)
        try:
            client.delete_topics([s.name for s in specs])
        finally:
            client.close()


if __name__ == "__main__":
    main()
