"""Rebuild time of one order partition after a restart, with and without snapshots.

Against the local broker: an in-process engine (inventory + order processors, one
partition per topic) handles N orders of the benchmark workload and stops cleanly
(final snapshots). Then the order partition is rebuilt three ways, as a restarted
processor would, and timed:

* full replay: every event decoded and applied (what the engine did before snapshots);
* snapshots: newest snapshots + the events after ``min(checkpoint, now - redelivery
  window)`` with the default window (events a snapshot covers are read for their
  command ids, not decoded);
* snapshots, window 0: newest snapshots + the events after the checkpoint only.

    python -m bench.rebuild --orders 20000
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

from bench.e2e.workload import Kind, Mix, Workload
from bench.events import drop_topics
from bench.handling import receipts

from oms_events import topics
from oms_events.avro.codec import SingleObjectCodec
from oms_events.engine import snapshots
from oms_events.engine.partition import rebuild, records_since
from oms_events.engine.records import CommandWriter
from oms_events.engine.runner import Engine
from oms_events.eventlog import EventLog
from oms_events.kafka.admin import apply_topics
from oms_events.kafka.connection import READ_TO_END_WAIT_MS, consumer, producer
from oms_events.kafka.port import TopicPartition
from oms_events.settings import Settings


def _settled(settings: Settings, wait_s: float = 5.0) -> int:
    """Wait until the order events partition stops growing; its end offset."""
    c = consumer(settings, group_id=None)
    tp = TopicPartition(topics.name(settings, topics.events("order")), 0)
    last, since = -1, time.monotonic()
    try:
        while True:
            end = c.end_offsets([tp])[tp]
            if end != last:
                last, since = end, time.monotonic()
            elif end > 0 and time.monotonic() - since > wait_s:
                return end
            time.sleep(0.5)
    finally:
        c.close()


def load(settings: Settings, orders: int) -> None:
    """Run the engine over ``orders`` orders and stop it cleanly."""
    codec = SingleObjectCodec()
    engine = Engine(settings, only=("inventory", "order"), codec=codec)
    engine.start()
    workload = Workload(Mix(), f"r{uuid.uuid4().hex[:4]}")
    writer = CommandWriter(settings, codec)
    p = producer(settings)
    for receipt in receipts(workload):
        r = writer.record(receipt)
        p.send(r.topic, key=r.key, value=r.value, headers=r.headers)
    p.flush()
    time.sleep(3)  # the stock view sees the receipts before the first order
    sent = 0
    for d in workload.take(orders * 2):
        if d.kind is not Kind.ORDER:
            continue
        r = writer.record(d.order)
        p.send(r.topic, key=r.key, value=r.value, headers=r.headers)
        sent += 1
        if sent == orders:
            break
    p.flush()
    p.close()
    _settled(settings)
    engine.stop(120)


def _no_snapshots(aggregate_id: Any, stub: Any) -> Any:
    raise LookupError(f"a full replay reads no snapshot ({aggregate_id})")


def timed(settings: Settings, full: bool) -> tuple[float, snapshots.Partition, int]:
    """Seconds to rebuild order partition 0; the state; events read."""
    codec = SingleObjectCodec()
    c = consumer(
        settings, group_id=None, max_poll_records=5000, fetch_max_wait_ms=READ_TO_END_WAIT_MS
    )
    try:
        started = time.perf_counter()
        if full:
            tp = TopicPartition(topics.name(settings, topics.events("order")), 0)
            result = snapshots.rebuild(
                0,
                [],
                lambda since: records_since(c, tp, since),
                EventLog(codec),
                0,
                0,
                load=_no_snapshots,
            )
            state, events = result.partition, result.events
        else:
            state = rebuild(c, settings, "order", 0, codec)
            events = -1  # in the "rebuilt" log line
        return time.perf_counter() - started, state, events
    finally:
        c.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20000)
    args = parser.parse_args()
    base = Settings()
    settings = base.replace(
        kafka={"topic_prefix": f"bench{uuid.uuid4().hex[:6]}.", "partitions": 1}
    )
    apply_topics(settings)
    try:
        load(settings, args.orders)
        for name, s, full in (
            ("full replay", settings, True),
            ("snapshots", settings, False),
            ("snapshots, window 0", settings.replace(engine={"redelivery_window_s": 0}), False),
        ):
            seconds, state, events = timed(s, full)
            print(
                f"{name:<20} {seconds:7.2f} s  in memory {len(state.aggregates):>6}  "
                f"out of memory {len(state.snapshots.keys() - state.aggregates.keys()):>6}"
                + (f"  events read {events}" if events >= 0 else "")
            )
    finally:
        drop_topics(settings)


if __name__ == "__main__":
    main()
