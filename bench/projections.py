"""Events per second into PostgreSQL for the inventory projection: live, replay, baseline.

    .venv/bin/python -m bench.projections [--events 100000] [--baseline 3000]

Produces inventory events made by real ``InventoryItem`` aggregates to topics of
their own (unique prefix), then times, in one run:

* live: ``oms project``'s runner from offset 0 to the end, batches of 5,000;
* replay: ``oms replay``'s rebuild into a fresh schema and the swap;
* baseline: the same runner writing one transaction per event (batch size 1),
  over the first ``--baseline`` events.

Prints events/s, the ratio to the baseline, p50/p99 batch latency and peak RSS.
Needs the dev services (``oms dev up``); cleans up its topics and schemas.
"""

from __future__ import annotations

import argparse
import resource
import time
import uuid
from typing import Any

import psycopg
from bench.events import produce
from psycopg import sql

from oms_events.domain import InventoryItem
from oms_events.kafka.admin import apply_topics
from oms_events.kafka.connection import admin
from oms_events.projection.migrate import migrate
from oms_events.projection.registry import select
from oms_events.projection.replay import rebuild
from oms_events.projection.runner import Runner, connect
from oms_events.settings import Settings
from oms_events.topics import Kind, registry


def make_events(n: int) -> list[Any]:
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


def run_live(settings: Settings, schema: str, batch_size: int, limit: int | None = None) -> Runner:
    """Run the inventory runner from 0 to the end (or ``limit`` events)."""
    projection = select(["inventory"])[0]
    conn = connect(settings.postgres.dsn, schema, f"bench-{batch_size}")
    migrate(conn, schema, [projection])
    runner = Runner(settings, projection, conn, batch_size=batch_size, max_wait=0.05)
    runner.metrics.started = time.monotonic()
    if limit is None:
        runner.catch_up()
    else:
        while runner.metrics.events < limit:
            runner.step()
    runner.close()
    conn.close()
    return runner


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=3_000)
    args = parser.parse_args()

    prefix = f"bench{uuid.uuid4().hex[:6]}."
    settings = Settings().replace(kafka={"topic_prefix": prefix})
    specs = [s for s in registry(settings) if s.kind in (Kind.EVENTS, Kind.DEADLETTER)]
    apply_topics(settings, specs)
    schemas = [f"bench_{uuid.uuid4().hex[:6]}_{x}" for x in ("live", "replay", "base")]
    try:
        t = time.monotonic()
        events = make_events(args.events)
        produce(settings, events, per_transaction=5000)
        print(f"produced {len(events):,} inventory events in {time.monotonic() - t:.1f} s")

        live = run_live(settings, schemas[0], 5000)
        live_rate = live.metrics.events / (time.monotonic() - live.metrics.started)

        t = time.monotonic()
        result = rebuild(settings, select(["inventory"])[0], schemas[1])
        replay_rate = result.events / (time.monotonic() - t)

        base = run_live(settings, schemas[2], 1, limit=args.baseline)
        base_rate = base.metrics.events / (time.monotonic() - base.metrics.started)

        m = live.metrics
        print(
            f"live      {live_rate:>10,.0f} events/s  ({m.events:,} events, {m.batches} "
            f"transactions; batch p50 {m.p50() * 1000:.1f} ms, p99 {m.p99() * 1000:.1f} ms)"
        )
        print(
            f"replay    {replay_rate:>10,.0f} events/s  ({result.events:,} events, rebuild + swap)"
        )
        print(
            f"baseline  {base_rate:>10,.0f} events/s  ({base.metrics.events:,} events, one "
            f"transaction each; p50 {base.metrics.p50() * 1000:.2f} ms, "
            f"p99 {base.metrics.p99() * 1000:.2f} ms)"
        )
        print(
            f"ratio     live {live_rate / base_rate:.0f}x, replay {replay_rate / base_rate:.0f}x "
            "the baseline"
        )
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS  {rss:.0f} MiB (whole process, events held in memory to produce them)")
    finally:
        with psycopg.connect(settings.postgres.dsn, autocommit=True) as conn:
            for s in schemas:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(s)))
        client = admin(settings)
        try:
            client.delete_topics([s.name for s in specs])
        finally:
            client.close()


if __name__ == "__main__":
    main()
