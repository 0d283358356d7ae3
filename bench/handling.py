"""CPU per order inside the engine's services, with no Kafka and no other process.

Drives the same pure step the processors run (``handling.Step``) for the order and
the inventory services, routing every record the outbox writes as Kafka would
(commands to their owner's partition, inventory events into the order process's
stock view), until each order is allocated. What it prints is the CPU the services
themselves spend per order — decode, domain, saga, encode — which is what the
end-to-end benchmark's "CPU per confirmed order" contains besides kafka-python's
own cost. Not sensitive to the machine's load, so before/after figures compare.

    python -m bench.handling --orders 5000
    python -m bench.handling --orders 2000 --profile      # the top functions too
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sqlite3
import tempfile
import time
from collections import Counter, deque
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from bench.e2e.workload import Kind, Mix, Workload

from oms_events import eventlog, topics
from oms_events.avro.codec import SingleObjectCodec
from oms_events.domain.workflow import Workflow
from oms_events.engine import snapshots
from oms_events.engine.commands import ReceiveStock
from oms_events.engine.handling import Step
from oms_events.engine.inventory_service import InventoryService
from oms_events.engine.order_saga import OrderSaga
from oms_events.engine.order_service import OrderService
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.records import CommandWriter, partition_for
from oms_events.engine.snapshots import Stub
from oms_events.engine.sourcing import StockView
from oms_events.settings import Settings


class SnapshotShelf:
    """The snapshots topics, on disk (sqlite) so that what left the engine's memory is
    not counted in it; reloads an aggregate as the processor's SnapshotLoader does."""

    def __init__(self) -> None:
        self.db = sqlite3.connect(tempfile.mkstemp(suffix=".db")[1])
        self.db.execute("CREATE TABLE s (id TEXT, version INT, value BLOB, PRIMARY KEY (id))")
        self.log = eventlog.EventLog(SingleObjectCodec())

    def put(self, record: Any) -> None:
        version = eventlog.header(record.headers, "version")
        if version is not None:  # not the checkpoint
            self.db.execute(
                "INSERT OR REPLACE INTO s VALUES (?, ?, ?)",
                (record.key.decode(), int(version), record.value),
            )

    def load(self, aggregate_id: UUID, stub: Stub) -> tuple[Any, list[str]]:
        row = self.db.execute(
            "SELECT value FROM s WHERE id = ? AND version = ?", (str(aggregate_id), stub.version)
        ).fetchone()
        return snapshots.restore(self.log, row[0])


class Engine:
    """Order + inventory services over in-memory partitions; a queue stands for Kafka.

    With ``shelf``, each handled record is one transaction as far as snapshots go:
    aggregates leave memory as the processors let them (engine/snapshots.py).
    """

    def __init__(self, settings: Settings, shelf: SnapshotShelf | None = None) -> None:
        self.shelf = shelf
        self.settings = settings
        self.codec = SingleObjectCodec()
        self.events = eventlog.EventLog(self.codec)
        self.view = StockView()
        self.services = {
            "order": Step(OrderService(OrderSaga(Workflow(), self.view)), settings, self.codec),
            "inventory": Step(InventoryService(), settings, self.codec),
        }
        self.partitions: dict[str, dict[int, Partition]] = {k: {} for k in self.services}
        self.inputs = {topics.name(settings, topics.commands(k)): k for k in self.services}
        self.inventory_events = topics.name(settings, topics.events("inventory"))
        self.snapshot_topics = {topics.name(settings, topics.snapshots(k)) for k in self.services}
        self.seconds: Counter[str] = Counter()
        self.records: Counter[str] = Counter()
        self.queue: deque[Any] = deque()

    def publish(self, outgoing: Any) -> None:
        """Queue one record the way a producer would land it."""
        self.queue.append(
            SimpleNamespace(
                topic=outgoing.topic,
                key=outgoing.key,
                value=outgoing.value,
                headers=outgoing.headers,
                partition=outgoing.partition
                if outgoing.partition is not None
                else partition_for(outgoing.key or b"", self.settings.kafka.partitions),
                offset=0,
            )
        )

    def drain(self) -> None:
        """Handle queued records until none is left (one outbox per record)."""
        while self.queue:
            record = self.queue.popleft()
            self.records[record.topic.rsplit(".", 2)[-2]] += 1
            if record.topic in self.snapshot_topics:
                if self.shelf is not None:
                    self.shelf.put(record)
                continue
            if record.topic == self.inventory_events:
                began = time.process_time()
                self.view.apply(self.events.record(record))
                self.seconds["stock view"] += time.process_time() - began
                continue
            service = self.inputs.get(record.topic)
            if service is None:
                continue  # order events, shipments, allocations: other readers
            parts = self.partitions[service]
            partition = parts.get(record.partition)
            if partition is None:
                partition = parts[record.partition] = Partition(record.partition)
                if self.shelf is not None:
                    partition.loader = self.shelf.load
                self.services[service].service.rebuilt(partition)
            out = Outbox(self.settings, self.codec)
            began = time.process_time()
            self.services[service](record, partition, out)
            if self.shelf is not None:
                engine = self.settings.engine
                window_ms = int(engine.redelivery_window_s * 1000)
                settlement = out.snapshots(
                    service, partition, engine.snapshot_every, window_ms, final=False
                )
                snapshots.committed(partition, settlement)  # the "transaction" commits
            self.seconds[service] += time.process_time() - began
            for o in out.records:
                self.publish(o)


def receipts(workload: Workload) -> list[ReceiveStock]:
    """Plenty of stock of every sku of the workload at every location."""
    return [
        ReceiveStock(
            command_id=f"bench-{sku}-{location}",
            sku=sku,
            location=location,
            quantity=1_000_000,
            reason="bench",
        )
        for sku in workload.skus
        for location in workload.locations
    ]


def run(orders: int, profile: bool) -> None:
    settings = Settings().replace(kafka={"topic_prefix": "", "partitions": 6})
    engine = Engine(settings)
    workload = Workload(Mix(), "h")
    writer = CommandWriter(settings, engine.codec)
    for receipt in receipts(workload):
        engine.publish(writer.record(receipt))
    engine.drain()
    engine.seconds.clear()
    engine.records.clear()
    deliveries = [d for d in workload.take(orders) if d.kind in (Kind.ORDER, Kind.CANCEL)]
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    for d in deliveries:
        # Keyed by order number, as a channel might: the step forwards it to the owner.
        engine.publish(writer.record(d.order, key=d.order.order_no))
        engine.drain()
    if profiler:
        profiler.disable()
    n = len(deliveries)
    total = sum(engine.seconds.values())
    print(f"{n} orders, {sum(len(d.order.lines) for d in deliveries) / n:.2f} lines each")
    for name, seconds in engine.seconds.most_common():
        print(f"  {name:<12} {seconds / n * 1e6:8.0f} µs CPU per order")
    print(f"  {'total':<12} {total / n * 1e6:8.0f} µs CPU per order  ({n / total:,.0f} orders/s)")
    print(
        "  records per order: " + ", ".join(f"{k} {v / n:.2f}" for k, v in engine.records.items())
    )
    if profiler:
        stats = pstats.Stats(profiler).sort_stats("tottime")
        stats.print_stats(25)
        stats.print_callers(8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--profile", action="store_true", help="cProfile the handling")
    args = parser.parse_args()
    run(args.orders, args.profile)


if __name__ == "__main__":
    main()
