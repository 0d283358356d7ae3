"""Benchmark: what replaying one event costs at least, stage by stage, on this machine.

A replay of the order aggregates reads each committed record (librdkafka, then the
port's ``Record``), reads the keys of its orders from the key store (a query per
thousand), decodes its Avro body (opening its personal-data tokens), builds
the domain event (upcasters applied) and folds it into its aggregate. This reads the
order events once, timing the read, then times each later stage over the records in
memory, one thread, and prints per stage the microseconds per event and the rate a
replay could reach if every stage after it were free. A stage whose rate alone is
under a target shows that target cannot be met by work on the stages after it.

A calibration line times ten million Python additions: figures of two machines (or of
one machine on two days) compare through it.

    .venv/bin/python -m bench.floors --orders 7000          # events of its own
    .venv/bin/python -m bench.floors --prefix bench62c2e2.  # a kept `oms bench --keep` run

Needs the dev services (``oms dev up``). ``--orders`` writes topics of its own (unique
prefix) and deletes them afterwards; ``--prefix`` only reads.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from typing import Any

from bench.events import drop_topics, produce
from bench.projections import order_events

from oms_events import topics
from oms_events.avro.codec import Codec, SingleObjectCodec
from oms_events.avro.registry import codec_from_settings
from oms_events.eventlog import EventLog
from oms_events.kafka.admin import apply_topics
from oms_events.kafka.connection import read_to_end
from oms_events.kafka.port import Record
from oms_events.privacy.vault import sealing
from oms_events.settings import Settings


def calibration_s() -> float:
    """Seconds for ten million Python additions (the best of three)."""

    def once() -> float:
        started = time.perf_counter()
        total = 0
        for i in range(10_000_000):
            total += i
        return time.perf_counter() - started

    return min(once() for _ in range(3))


def stages(records: list[Record], codec: Codec) -> list[tuple[str, float]]:
    """Seconds of each stage after the read over ``records``, in order."""
    log = EventLog(codec)
    values = [r.value for r in records if r.value]
    keys = sealing(codec)
    started = time.thread_time()
    for start in range(0, len(values), 1000):  # as a rebuild and a projection ask
        keys.prefetch(values[start : start + 1000])
    fetched = time.thread_time() - started

    started = time.thread_time()
    for v in values:
        codec.decode(v)
    decoded = time.thread_time() - started

    started = time.thread_time()
    events: list[Any] = [log.event(v) for v in values]
    built = time.thread_time() - started

    aggregates: dict[Any, Any] = {}
    started = time.thread_time()
    for e in events:
        aggregates[e.originator_id] = e.mutate(aggregates.get(e.originator_id))
    folded = time.thread_time() - started
    return [
        ("order keys read (a query per 1,000 events)", fetched),
        ("Avro decode, tokens opened", decoded),
        ("domain event built (decode again, upcast)", built - decoded),
        ("folded into its aggregate", folded),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=7000, help="orders to write (no --prefix)")
    parser.add_argument("--prefix", default="", help="read the topics of a kept run instead")
    args = parser.parse_args()
    base = Settings()
    load_before = os.getloadavg()
    if args.prefix:
        settings = base.replace(kafka={"topic_prefix": args.prefix})
        codec: Codec = codec_from_settings(settings)  # the run's tokens are opened
        source = f"kept run {args.prefix}"
    else:
        settings = base.replace(kafka={"topic_prefix": f"floors{uuid.uuid4().hex[:6]}."})
        codec = SingleObjectCodec()
        apply_topics(settings)
        produce(settings, order_events(args.orders * 14))
        source = f"{args.orders:,} orders of its own"
    topic = topics.name(settings, topics.events("order"))
    try:
        started, cpu = time.perf_counter(), time.thread_time()
        records = read_to_end(settings, topic)
        read_wall, read_cpu = time.perf_counter() - started, time.thread_time() - cpu
        rows = [("read (librdkafka, port Record)", read_cpu), *stages(records, codec)]
    finally:
        if not args.prefix:
            drop_topics(settings)
    n = len(records)
    print(
        f"replay floors: {n:,} order events ({source}), one thread; read wall "
        f"{read_wall:.2f} s for {read_cpu:.2f} CPU s"
    )
    heading = f"{'stage (CPU of this thread)':<44}{'µs/event':>10}{'cumulative':>12}"
    print(f"{heading}{'events/s at most':>18}")
    total = 0.0
    for name, seconds in rows:
        total += seconds
        print(f"{name:<44}{seconds / n * 1e6:>10.1f}{total / n * 1e6:>12.1f}{n / total:>18,.0f}")
    load_after = os.getloadavg()
    print(
        f"calibration: 10M Python additions in {calibration_s():.2f} s; load (1 min) "
        f"{load_before[0]:.2f} -> {load_after[0]:.2f} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
