"""Benchmark: single-event saves of the Kafka recorder beside eventsourcing.postgres.

The insert is the library's own ``AggregateRecorderTestCase.test_performance`` one
(one StoredEvent per ``insert_events``, a new aggregate each time), timed for both
Kafka clients and for the library's PostgreSQL recorder in the same run, rounds
alternating so that the machine's load falls on each alike. Prints the load average.

    .venv/bin/python -m bench.recorder --inserts 500 --rounds 3

Needs the dev services (`oms dev up`). Fresh topics and a fresh schema, removed after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from bench.e2e.baseline import postgres_environment
from bench.events import drop_topics
from eventsourcing.persistence import AggregateRecorder, StoredEvent
from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment

from oms_events.eventstore import Factory, environment
from oms_events.settings import Settings


def _timed(recorder: AggregateRecorder, inserts: int) -> float:
    """Seconds per insert over ``inserts`` single-event saves (after 10 to warm up)."""

    def insert() -> None:
        stored = StoredEvent(
            originator_id=uuid.uuid4(), originator_version=1, topic="topic1", state=b"state1"
        )
        recorder.insert_events([stored])

    for _ in range(10):
        insert()
    started = time.perf_counter()
    for _ in range(inserts):
        insert()
    return (time.perf_counter() - started) / inserts


def _kafka(settings: Settings, client: str) -> tuple[AggregateRecorder, Callable[[], None]]:
    s = settings.replace(kafka={"client": client, "topic_prefix": f"rec{uuid.uuid4().hex[:8]}."})
    factory = Factory(
        Environment(
            "recorder",
            environment(s, OMS_EVENTSTORE_TYPES="order", OMS_EVENTSTORE_DEFAULT_TYPE="order"),
        )
    )
    recorder = factory.aggregate_recorder()

    def close() -> None:
        factory.close()
        drop_topics(s)

    return recorder, close


def _postgres(settings: Settings) -> tuple[AggregateRecorder, Callable[[], None]]:
    schema = f"rec_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(settings.postgres.migrator_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    env = postgres_environment(settings.postgres.migrator_dsn, schema)
    factory = PostgresFactory(Environment("recorder", {**env, "CREATE_TABLE": "y"}))
    recorder = factory.aggregate_recorder()

    def close() -> None:
        factory.close()
        with psycopg.connect(settings.postgres.migrator_dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")

    return recorder, close


def main() -> None:
    """Time every backend ``--rounds`` times and print inserts/s side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inserts", type=int, default=500, help="timed inserts per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per backend")
    args = parser.parse_args()
    settings = Settings()
    backends: dict[str, Callable[[], tuple[AggregateRecorder, Callable[[], None]]]] = {
        "kafka (confluent-kafka)": lambda: _kafka(settings, "confluent"),
        "kafka (kafka-python)": lambda: _kafka(settings, "kafka-python"),
        "eventsourcing.postgres": lambda: _postgres(settings),
    }
    per_insert: dict[str, list[float]] = {name: [] for name in backends}
    load_before = os.getloadavg()
    for _ in range(args.rounds):
        for name, make in backends.items():
            recorder, close = make()
            try:
                per_insert[name].append(_timed(recorder, args.inserts))
            finally:
                close()
    load_after = os.getloadavg()
    pg = statistics.median(per_insert["eventsourcing.postgres"])
    print(f"single-event inserts, {args.inserts} per round, {args.rounds} rounds (median)")
    print(f"{'backend':<26}{'µs/insert':>12}{'inserts/s':>12}{'÷ postgres':>12}")
    rows: list[Any] = []
    for name, values in per_insert.items():
        median = statistics.median(values)
        rows.append((name, median))
        print(f"{name:<26}{median * 1e6:>12,.0f}{1 / median:>12,.0f}{pg / median:>12.2f}")
    print(
        f"load average (1 min) {load_before[0]:.2f} -> {load_after[0]:.2f} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
