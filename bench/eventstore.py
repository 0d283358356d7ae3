"""Benchmark: the Kafka event store beside eventsourcing's PostgreSQL module.

Saves ``--events`` InventoryItem events (``--per-item`` events per item, ``--batch``
items per ``app.save(*items)``, i.e. per Kafka transaction / PostgreSQL commit),
then replays them all in a fresh application (Kafka: build the index by
consuming the topic, then load every item; PostgreSQL: load every item).
Each backend runs in its own child process so that its peak RSS is its own.

    .venv/bin/python -m bench.eventstore --events 100000
    .venv/bin/python -m bench.eventstore --events 10000

Needs the dev services (`oms dev up`). Uses fresh topics (prefix) and a fresh
PostgreSQL schema, both removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import uuid
from typing import Any

from bench.e2e.baseline import postgres_environment
from bench.events import drop_topics
from eventsourcing.application import Application

from oms_events.domain import InventoryItem
from oms_events.eventstore import environment
from oms_events.settings import Settings


class Warehouse(Application[uuid.UUID]):
    """The application under test: stock items, nothing else."""


def _items(n_items: int, per_item: int) -> list[InventoryItem]:
    items = []
    for i in range(n_items):
        item = InventoryItem.register(f"SKU-{i}", "BENCH", 0)
        for q in range(1, per_item):
            item.receive(q, "bench")
        items.append(item)
    return items


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_backend(
    backend: str, events: int, per_item: int, batch: int, freshness_ms: int = 0
) -> dict[str, Any]:
    """Save and replay on one backend; return its figures."""
    settings = Settings()
    tag = uuid.uuid4().hex[:8]
    if backend == "kafka":
        env = environment(
            settings.replace(kafka={"topic_prefix": f"bench{tag}."}),
            OMS_EVENTSTORE_TYPES="inventory",
            OMS_EVENTSTORE_READ_FRESHNESS_MS=str(freshness_ms),
        )
    else:
        env = postgres_environment(settings.postgres.migrator_dsn, f"bench_{tag}")
        import psycopg

        with psycopg.connect(settings.postgres.migrator_dsn, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA bench_{tag}")
    n_items = events // per_item
    items = _items(n_items, per_item)
    ids = [item.id for item in items]
    try:
        app = Warehouse(env=env)
        started = time.perf_counter()
        for i in range(0, n_items, batch):
            app.save(*items[i : i + batch])
        save_s = time.perf_counter() - started
        app.close()
        del items

        started = time.perf_counter()
        reader = Warehouse(env=env)
        reader.repository.get(ids[0])  # Kafka: builds the index from the topic
        first_s = time.perf_counter() - started
        total = 0
        for item_id in ids:
            total += reader.repository.get(item_id).version
        replay_s = time.perf_counter() - started
        reader.close()
        assert total == n_items * per_item, total
    finally:
        _cleanup(backend, settings, tag)
    saved = n_items * per_item
    return {
        "backend": backend,
        "events": saved,
        "save_s": save_s,
        "save_eps": saved / save_s,
        "first_get_s": first_s,
        "replay_s": replay_s,
        "replay_eps": saved / replay_s,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _cleanup(backend: str, settings: Settings, tag: str) -> None:
    if backend == "kafka":
        drop_topics(settings.replace(kafka={"topic_prefix": f"bench{tag}."}))
    else:
        import psycopg

        with psycopg.connect(settings.postgres.migrator_dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS bench_{tag} CASCADE")


def main() -> None:
    """Run both backends in child processes and print the figures side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--per-item", type=int, default=10, help="events per aggregate")
    parser.add_argument("--batch", type=int, default=100, help="aggregates per app.save()")
    parser.add_argument(
        "--freshness-ms",
        type=int,
        default=0,
        help="OMS_EVENTSTORE_READ_FRESHNESS_MS for the Kafka store (0: check on every read)",
    )
    parser.add_argument("--backend", choices=["kafka", "postgres"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.backend:
        figures = run_backend(
            args.backend, args.events, args.per_item, args.batch, args.freshness_ms
        )
        print(json.dumps(figures))
        return

    results = {}
    for backend in ("kafka", "postgres"):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.eventstore",
                "--backend",
                backend,
                "--events",
                str(args.events),
                "--per-item",
                str(args.per_item),
                "--batch",
                str(args.batch),
                "--freshness-ms",
                str(args.freshness_ms),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results[backend] = json.loads(out.strip().splitlines()[-1])
    k, p = results["kafka"], results["postgres"]
    print(
        f"events: {k['events']}  ({args.per_item} per item, {args.batch} items "
        f"= {args.batch * args.per_item} events per save/transaction; "
        f"kafka read freshness {args.freshness_ms} ms)"
    )
    print(f"{'':28}{'kafka':>14}{'postgres':>14}{'kafka/pg':>10}")
    rows = [
        ("save events/s", "save_eps", "{:14,.0f}"),
        ("save seconds", "save_s", "{:14.2f}"),
        ("replay events/s", "replay_eps", "{:14,.0f}"),
        ("replay seconds", "replay_s", "{:14.2f}"),
        ("  of which first get (s)", "first_get_s", "{:14.2f}"),
        ("peak RSS (MB)", "peak_rss_mb", "{:14.0f}"),
    ]
    for label, key, fmt in rows:
        ratio = k[key] / p[key] if p[key] else float("nan")
        print(f"{label:28}{fmt.format(k[key])}{fmt.format(p[key])}{ratio:10.2f}")


if __name__ == "__main__":
    main()
