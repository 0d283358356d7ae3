"""Engine memory per order: how much the order and inventory services hold per order.

Runs bench/handling.py's in-process engine (the processors' pure step, no Kafka) over
N orders of the benchmark workload (cancels included) and prints the growth of the
process's resident set and of the Python heap (tracemalloc) per order and per 100k
orders, after ``--warmup`` orders that fill the engine's bounded caches (ids and
partitions of recent keys, 65,536 entries each) so that what is measured is the
growth per order, not a fixed cost. ``--keep-all`` keeps every aggregate and command
id in memory, as the engine did before snapshots; by default aggregates leave memory
as the processors let them (engine/snapshots.py), their snapshots kept on disk as
Kafka would keep them.

    python -m bench.memory --warmup 20000 --orders 20000
    python -m bench.memory --warmup 20000 --orders 20000 --keep-all
"""

from __future__ import annotations

import argparse
import gc
import os
import tracemalloc

from bench.e2e.workload import Kind, Mix, Workload
from bench.handling import Engine, SnapshotShelf, receipts

from oms_events.engine.records import CommandWriter
from oms_events.settings import Settings


def rss_bytes() -> int:
    """Resident set size of this process (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run(warmup: int, orders: int, keep_all: bool, traced: bool, to_shipped: bool) -> None:
    settings = Settings().replace(kafka={"topic_prefix": "", "partitions": 6})
    engine = Engine(settings, to_shipped=to_shipped, shelf=None if keep_all else SnapshotShelf())
    workload = Workload(Mix(), "m")
    writer = CommandWriter(settings, engine.codec)
    for receipt in receipts(workload):
        engine.publish(writer.record(receipt))
    engine.drain()
    taken = list(workload.take(warmup + orders))
    deliveries = [d for d in taken if d.kind in (Kind.ORDER, Kind.CANCEL)]
    first = len([d for d in taken[:warmup] if d.kind in (Kind.ORDER, Kind.CANCEL)])
    for d in deliveries[:first]:
        engine.publish(writer.record(d.order))
        engine.drain()
    deliveries = deliveries[first:]
    gc.collect()
    if traced:
        tracemalloc.start()
    before = rss_bytes()
    for d in deliveries:
        engine.publish(writer.record(d.order))
        engine.drain()
    gc.collect()
    grown = rss_bytes() - before
    heap = tracemalloc.get_traced_memory()[0] if traced else 0
    n = len(deliveries)
    in_memory = {
        kind: sum(len(p.aggregates) for p in parts.values())
        for kind, parts in engine.partitions.items()
    }
    mode = "every aggregate kept (before)" if keep_all else "dormant aggregates leave memory"
    print(f"{n} orders, {mode}; in memory at the end: {in_memory}")
    for name, size in (("RSS growth", grown), ("Python heap", heap)):
        if name == "RSS growth" or traced:
            mib = size / n * 1e5 / 2**20
            print(f"  {name:<12} {size / n:8.0f} B per order  {mib:7.1f} MiB per 100k orders")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=20000, help="orders before measuring")
    parser.add_argument("--orders", type=int, default=20000, help="orders measured")
    parser.add_argument("--keep-all", action="store_true", help="no aggregate leaves memory")
    parser.add_argument("--traced", action="store_true", help="also trace the Python heap")
    parser.add_argument(
        "--to-shipped", action="store_true", help="every order shipped (stock committed)"
    )
    args = parser.parse_args()
    run(args.warmup, args.orders, args.keep_all, args.traced, args.to_shipped)


if __name__ == "__main__":
    main()
