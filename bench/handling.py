"""CPU and Kafka records per order inside the engine's services, with no Kafka and no
other process.

Drives the same pure step the processors run (``handling.Step``) for the order and
the inventory services, routing every record the outbox writes as Kafka would
(commands to their owner's partition, inventory events into the order process's
stock view), until each order is allocated (``--to-shipped``: shipped, with the
shipment service, the warehouse adapter and a warehouse that answers at once). What
it prints is the CPU the services themselves spend per order — decode, domain, saga,
encode — which is what the end-to-end benchmark's "CPU per confirmed order" contains
besides the Kafka client's own cost, and the records each order writes (its
PlaceOrder included), per topic family and for orders of 1, 2, 3 … lines. Not
sensitive to the machine's load, so before/after figures compare.

A transaction is, by default, what one processor owning every partition of its
service does with one poll: everything queued for that service is handled in one
outbox. ``--per-record`` gives every record its own transaction instead (the most
records an order can cost: nothing is batched). Orders arrive one at a time by
default (each poll holds one order's records); ``--orders-per-poll 200`` lets that
many arrive before the engine polls, as under load (records per order of n lines are
then not told apart).

    python -m bench.handling --orders 5000
    python -m bench.handling --orders 3000 --per-record
    python -m bench.handling --orders 3000 --to-shipped
    python -m bench.handling --orders 2000 --profile      # the top functions too
    python -m bench.handling --orders 2000 --keys none    # personal data not sealed
    python -m bench.handling --orders 2000 --keys postgres --orders-per-poll 200
    python -m bench.handling --orders 2000 --keys postgres --orders-per-poll 200 --no-key-batch
    python -m bench.handling --orders 2000 --orders-per-poll 200 --lines 2  # under load

Personal fields are sealed as every process seals them (oms_events.privacy.vault), with
order keys held in memory by default (``--keys memory``: the cost of sealing and opening
alone), or in the key store of the dev PostgreSQL (``--keys postgres``: a read before
and a write after each poll's transaction, as a processor does, counted as "key store";
the intake that makes the keys has a key store of its own, as another process has), or
not at all (``--keys none``: the cost before).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sqlite3
import tempfile
import time
from collections import Counter, defaultdict, deque
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

from bench.e2e.workload import Kind, Mix, Workload

from oms_events import eventlog, topics
from oms_events.avro.codec import Codec, SingleObjectCodec
from oms_events.domain.workflow import Workflow
from oms_events.engine import bundles, snapshots
from oms_events.engine.commands import ReceiveStock
from oms_events.engine.handling import Step
from oms_events.engine.inventory_service import InventoryService
from oms_events.engine.order_saga import OrderSaga
from oms_events.engine.order_service import OrderService
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.records import CommandWriter, Outgoing, partition_for
from oms_events.engine.shipment_service import ShipmentService
from oms_events.engine.snapshots import Stub
from oms_events.engine.sourcing import StockView
from oms_events.engine.warehouse_adapter import WAREHOUSE_UPDATE, WarehouseAdapter
from oms_events.privacy.keystore import KeyStore, MemoryKeys
from oms_events.privacy.vault import Vault, sealed_in_one_batch, sealing
from oms_events.settings import Settings


class SnapshotShelf:
    """The snapshots topics, on disk (sqlite) so that what left the engine's memory is
    not counted in it; reloads an aggregate as the processor's SnapshotLoader does."""

    def __init__(self, codec: Codec | None = None) -> None:
        self.db = sqlite3.connect(tempfile.mkstemp(suffix=".db")[1])
        self.db.execute("CREATE TABLE s (id TEXT, version INT, value BLOB, PRIMARY KEY (id))")
        self.log = eventlog.EventLog(codec or SingleObjectCodec())

    def put(self, record: Any) -> None:
        """Keep a snapshot record (the checkpoint has no version: not needed here)."""
        version = eventlog.header(record.headers, "version")
        if version is not None:
            self.db.execute(
                "INSERT OR REPLACE INTO s VALUES (?, ?, ?)",
                (record.key.decode(), int(version), record.value),
            )

    def load(self, aggregate_id: UUID, stub: Stub) -> tuple[Any, list[str]]:
        """The aggregate and command ids of a snapshot put here."""
        row = self.db.execute(
            "SELECT value FROM s WHERE id = ? AND version = ?", (str(aggregate_id), stub.version)
        ).fetchone()
        return snapshots.restore(self.log, row[0])


class Engine:
    """Order + inventory services over in-memory partitions; a queue stands for Kafka.

    ``to_shipped``: the shipment service and the warehouse adapter too, and a warehouse
    that picks, packs and ships every allocation at once (as ``oms simulate``'s does).
    With a ``shelf``, each transaction also writes its snapshots and aggregates leave
    memory as the processors let them (engine/snapshots.py).
    """

    def __init__(
        self,
        settings: Settings,
        per_record: bool = False,
        to_shipped: bool = False,
        shelf: SnapshotShelf | None = None,
        codec: Codec | None = None,
        key_batch: bool = True,
    ):
        self.settings = settings
        self.shelf = shelf
        self.per_record = per_record
        self.codec = codec or SingleObjectCodec()
        # One key batch per poll, as a processor's (without: every key and link written
        # as it is sealed, as before issue 13).
        self.sealing = sealing(self.codec if key_batch else SingleObjectCodec())
        self.events = eventlog.EventLog(self.codec, settings=settings)
        self.view = StockView()
        self.services = {
            "order": Step(OrderService(OrderSaga(Workflow(), self.view)), settings, self.codec),
            "inventory": Step(InventoryService(), settings, self.codec),
        }
        if to_shipped:
            self.services["shipment"] = Step(ShipmentService(), settings, self.codec)
            self.services["warehouse"] = Step(WarehouseAdapter(), settings, self.codec)
        self.partitions: dict[str, dict[int, Partition]] = {k: {} for k in self.services}
        self.inputs = {
            topics.name(settings, service.service.input_topic()): name
            for name, service in self.services.items()
        }
        self.inventory_events = topics.name(settings, topics.events("inventory"))
        self.allocations = topics.name(settings, topics.ALLOCATIONS) if to_shipped else None
        self.snapshot_topics = {
            topics.name(settings, topics.snapshots(t)) for t in ("order", "inventory", "shipment")
        }
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

    def drain(self) -> int:
        """Handle queued records until none is left; return how many were handled."""
        handled = 0
        while self.queue:
            batch = list(self.queue)
            self.queue.clear()
            handled += len(batch)
            outboxes: dict[str, Outbox] = {}
            if not self.per_record:
                self.begin(batch)
            for record in batch:
                if self.per_record:
                    self.begin([record])
                out = self.handle(record, outboxes)
                if out is not None and self.per_record:
                    self.flush({self.inputs[record.topic]: out})
            self.flush(outboxes)
        return handled

    def begin(self, batch: list[Any]) -> None:
        """The key batch of a transaction: the keys its records name, read at once."""
        began = time.process_time()
        self.sealing.begin(r.value for r in batch)
        self.seconds["key store"] += time.process_time() - began

    def handle(self, record: Any, outboxes: dict[str, Outbox]) -> Outbox | None:
        """One record through its service, into that service's outbox of this round."""
        self.records[record.topic.rsplit(".", 2)[-2]] += 1
        if record.topic in self.snapshot_topics:
            if self.shelf is not None:
                self.shelf.put(record)
            return None
        if record.topic == self.inventory_events:
            began = time.process_time()
            self.view.apply(self.events.record(record))
            self.seconds["stock view"] += time.process_time() - began
            return None
        if record.topic == self.allocations:
            self.warehouse(record)
            return None
        service = self.inputs.get(record.topic)
        if service is None:
            return None  # order events, shipments, allocations: other readers
        parts = self.partitions[service]
        partition = parts.get(record.partition)
        if partition is None:
            partition = parts[record.partition] = Partition(record.partition)
            if self.shelf is not None:
                partition.loader = self.shelf.load
            self.services[service].service.rebuilt(partition)
        if self.per_record:
            out = Outbox(self.settings, self.codec)
        else:
            out = outboxes.setdefault(service, Outbox(self.settings, self.codec))
        began = time.process_time()
        for part in bundles.parts(self.codec, record):
            self.services[service](part, partition, out)
        self.seconds[service] += time.process_time() - began
        return out

    def warehouse(self, record: Any) -> None:
        """Be the warehouse: picked, packed and shipped updates for an allocation."""
        _, allocation = self.codec.decode(record.value)
        shipment_id = allocation["shipment_id"]
        for status in ("picked", "packed", "shipped"):
            shipped = status == "shipped"
            update = {
                "update_id": f"{shipment_id}/{status}",
                "shipment_id": shipment_id,
                "location": allocation["location"],
                "status": status,
                "carrier": "SF Express" if shipped else None,
                "tracking_no": f"SF{shipment_id[:12]}" if shipped else None,
                "at": datetime.now(UTC),
            }
            topic = topics.name(self.settings, topics.WAREHOUSE_UPDATES)
            value = self.codec.encode(WAREHOUSE_UPDATE, update, topic=topic)
            self.publish(Outgoing(topic, shipment_id.encode(), value))

    def flush(self, outboxes: dict[str, Outbox]) -> None:
        """Commit: what the outboxes hold (with a shelf, the snapshots each service's
        partitions write too) becomes visible to the readers, once the keys and links
        the transaction made are in the key store (one statement for them all)."""
        settlements = {service: self.snapshot(service, out) for service, out in outboxes.items()}
        began = time.process_time()
        written = self.sealing.settle([o for out in outboxes.values() for o in out.records])
        self.seconds["key store"] += time.process_time() - began
        for out in outboxes.values():
            out.records[:], written = written[: len(out.records)], written[len(out.records) :]
        for service, out in outboxes.items():
            settled = settlements[service]
            for o in out.bundled():
                self.publish(o)
            out.records.clear()
            for partition, settlement in settled:
                snapshots.committed(partition, settlement)

    def snapshot(self, service: str, out: Outbox) -> list[tuple[Partition, Any]]:
        """The snapshots a service's transaction writes, as the processor's _snapshots."""
        aggregate_type = self.services[service].service.aggregate_type
        if self.shelf is None or aggregate_type is None:
            return []
        engine = self.settings.engine
        window_ms = int(engine.redelivery_window_s * 1000)
        return [
            (p, out.snapshots(aggregate_type, p, engine.snapshot_every, window_ms, final=False))
            for p in self.partitions[service].values()
        ]


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


def codec_for(settings: Settings, keys: str) -> Codec:
    """The codec of ``--keys``: sealing with keys in memory or PostgreSQL, or plain."""
    if keys == "none":
        return SingleObjectCodec()
    return Vault(SingleObjectCodec(), MemoryKeys() if keys == "memory" else KeyStore(settings))


def run(
    orders: int,
    profile: bool,
    per_record: bool,
    to_shipped: bool,
    keys: str,
    per_poll: int = 1,
    key_batch: bool = True,
    lines: int = 0,
) -> None:
    settings = Settings().replace(kafka={"topic_prefix": "", "partitions": 6})
    codec = codec_for(settings, keys)
    engine = Engine(settings, per_record, to_shipped, codec=codec, key_batch=key_batch)
    # With PostgreSQL, orders new to the key store (as the intake's are): the same run id
    # again would find the keys the last run made.
    workload = Workload(Mix(lines=lines), f"h{uuid4().hex[:6]}" if keys == "postgres" else "h")
    # The intake is another process: with PostgreSQL, its own key store (the engine finds
    # each order's key through the store, not in a cache it shares with the writer). Its
    # keys are made in a batch per poll too, outside the CPU counted here.
    intake = codec_for(settings, keys) if keys == "postgres" else engine.codec
    writer = CommandWriter(settings, intake)
    for receipt in receipts(workload):
        engine.publish(writer.record(receipt))
    engine.drain()
    if isinstance(codec, Vault) and isinstance(codec.keys, KeyStore):
        codec.keys.key(uuid4().hex)  # connected before the clock starts, as the writer
        codec.keys.statements = 0
    engine.seconds.clear()
    engine.records.clear()
    deliveries = [d for d in workload.take(orders) if d.kind in (Kind.ORDER, Kind.CANCEL)]
    by_lines: dict[int, list[int]] = defaultdict(list)  # lines -> records of each order
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    for start in range(0, len(deliveries), per_poll):
        group = deliveries[start : start + per_poll]
        # Keyed by order id, as the intake writes it (another key costs a forward).
        placed = sealed_in_one_batch(
            intake, lambda group=group: [writer.record(d.order) for d in group]
        )
        for record in placed:
            engine.publish(record)
        written = engine.drain()
        if per_poll == 1 and group[0].kind is Kind.ORDER:
            by_lines[len(group[0].order.lines)].append(written)
    if profiler:
        profiler.disable()
    n = len(deliveries)
    total = sum(engine.seconds.values())
    mode = "one transaction per record" if per_record else "one transaction per poll"
    mode += ", to shipped" if to_shipped else ", to allocated"
    mode += f", keys: {keys}, {per_poll} order(s) per poll"
    mode += "" if key_batch or keys == "none" else ", no key batch"
    mode += f", every order {lines} line(s)" if lines else ""
    print(f"{n} orders, {sum(len(d.order.lines) for d in deliveries) / n:.2f} lines each ({mode})")
    for name, seconds in engine.seconds.most_common():
        print(f"  {name:<12} {seconds / n * 1e6:8.0f} µs CPU per order")
    print(f"  {'total':<12} {total / n * 1e6:8.0f} µs CPU per order  ({n / total:,.0f} orders/s)")
    print(
        f"  records per order: {engine.records.total() / n:.2f} ("
        + ", ".join(f"{k} {v / n:.2f}" for k, v in engine.records.items())
        + ")"
    )
    if by_lines:
        print(
            "  records per order of n lines: "
            + ", ".join(f"{k}: {sum(v) / len(v):.2f}" for k, v in sorted(by_lines.items()))
        )
    if isinstance(codec, Vault) and isinstance(codec.keys, KeyStore):
        print(f"  key store statements per order: {codec.keys.statements / n:.3f}")
    two = by_lines.get(2, [])
    if two:
        print(f"  records per 2-line order: {sum(two) / len(two):.2f} ({len(two)} orders)")
    if profiler:
        stats = pstats.Stats(profiler).sort_stats("tottime")
        stats.print_stats(25)
        stats.print_callers(8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--profile", action="store_true", help="cProfile the handling")
    parser.add_argument(
        "--per-record", action="store_true", help="one transaction per record (no batching)"
    )
    parser.add_argument(
        "--to-shipped",
        action="store_true",
        help="go on to shipped: shipment service, warehouse adapter and a warehouse",
    )
    parser.add_argument(
        "--keys",
        choices=("memory", "postgres", "none"),
        default="memory",
        help="where order keys come from (none: personal data not sealed)",
    )
    parser.add_argument(
        "--orders-per-poll",
        type=int,
        default=1,
        help="orders that arrive before the engine polls (1: one at a time)",
    )
    parser.add_argument(
        "--no-key-batch",
        action="store_true",
        help="write each order key and link as it is sealed (the cost before batching)",
    )
    parser.add_argument(
        "--lines",
        type=int,
        default=0,
        choices=range(6),
        metavar="N",
        help="every order has N lines (1-5; default 0: 1-5 lines as the bench workload)",
    )
    args = parser.parse_args()
    run(
        args.orders,
        args.profile,
        args.per_record,
        args.to_shipped,
        args.keys,
        args.orders_per_poll,
        not args.no_key_batch,
        args.lines,
    )


if __name__ == "__main__":
    main()
