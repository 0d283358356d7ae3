"""The engine's snapshot rules on one partition, without Kafka (engine/snapshots.py)."""

from __future__ import annotations

from uuid import uuid4

from oms_events import eventlog
from oms_events.avro.codec import SingleObjectCodec
from oms_events.domain import Order
from oms_events.engine import snapshots
from oms_events.engine.snapshots import CLOSED, Partition
from tests.unit.domain.samples import order, reserve_all, state

LOG = eventlog.EventLog(SingleObjectCodec())


def _allocated() -> tuple[Order, list[eventlog.Record]]:
    o = order(external_id=f"T-{uuid4()}")
    reserve_all(o)
    o.confirm()
    o.allocate()
    records = []
    for e in o.collect_events():
        key, value, headers = LOG.encode(e)
        headers.append(("command_id", b"c-1"))
        records.append(eventlog.Record(value, key, headers, timestamp=1_000))
    return o, records


def test_an_allocated_order_leaves_memory_with_a_closed_snapshot_and_comes_back() -> None:
    o, _ = _allocated()
    partition = Partition(0)
    partition.record(o, "c-1", o.version, at_ms=1_000)
    settlement = snapshots.settle(partition, LOG, "order", 1_000, every=200, window_ms=60_000)
    snapshot, checkpoint = settlement.records
    assert eventlog.header(snapshot[2], CLOSED) == "1"
    assert eventlog.header(checkpoint[2], "event") == eventlog.CHECKPOINT
    snapshots.committed(partition, settlement)
    assert o.id not in partition.aggregates  # left memory
    stored = eventlog.Record(snapshot[1], snapshot[0], snapshot[2], timestamp=1_000)
    partition.loader = lambda i, stub: snapshots.restore(
        LOG,
        snapshots.find([stored], i, stub.version).value,  # type: ignore[union-attr]
    )
    assert state(partition.get(o.id)) == state(o)
    assert partition.seen(o.id, "c-1")  # its command ids came back with it


def test_an_aggregate_whose_snapshot_is_gone_is_folded_from_its_events() -> None:
    o, records = _allocated()
    _, more = _allocated()  # another order on the same partition
    again, command_ids = snapshots.replay_one(records + more, o.id, LOG)
    assert state(again) == state(o)
    assert command_ids == ["c-1"] * len(records)


def test_dormant_aggregates_rest_in_memory_until_newer_ones_push_them_out() -> None:
    """The ``keep`` most recently touched dormant aggregates stay; older ones leave with
    a snapshot, and one touched again moves to the back of the line."""
    partition = Partition(0)
    orders = []
    for n in range(3):
        o, records = _allocated()
        partition.record(o, f"c{n}", len(records), 1_000 + n)
        orders.append(o)
        settlement = snapshots.settle(partition, LOG, "order", 1_000 + n, 200, 60_000, keep=2)
        snapshots.committed(partition, settlement)
    # Three allocated orders, room for two: the first left memory with its snapshot.
    assert orders[0].id not in partition.aggregates
    assert orders[0].id in partition.snapshots
    assert {o.id for o in orders[1:]} <= set(partition.aggregates)
    # Touching the oldest resting one keeps it; the next newcomer pushes out the other.
    partition.touched.add(orders[1].id)
    newcomer, records = _allocated()
    partition.record(newcomer, "c3", len(records), 2_000)
    settlement = snapshots.settle(partition, LOG, "order", 2_000, 200, 60_000, keep=2)
    snapshots.committed(partition, settlement)
    assert set(partition.aggregates) == {orders[1].id, newcomer.id}
    assert settlement.leaving == [orders[2].id]


def test_an_aggregate_leaving_after_a_plain_snapshot_keeps_its_command_ids() -> None:
    """Snapshotted while it rested (no command ids in that snapshot), then pushed out with
    nothing new: it must leave with a snapshot that carries its ids, or a redelivered
    command would apply twice after it is reloaded."""
    o, records = _allocated()
    partition = Partition(0)
    partition.record(o, "c-1", len(records), at_ms=1_000)
    written: list[eventlog.Record] = []

    def settle(at_ms: int, keep: int, every: int = 200) -> snapshots.Settlement:
        settlement = snapshots.settle(partition, LOG, "order", at_ms, every, 60_000, keep=keep)
        written.extend(eventlog.Record(v, k, h, timestamp=at_ms) for k, v, h in settlement.records)
        snapshots.committed(partition, settlement)
        return settlement

    first = settle(1_000, keep=1, every=1)  # rests, and a plain snapshot is due
    assert first.snapshotted and not first.leaving
    newcomer, more = _allocated()
    partition.record(newcomer, "c-2", len(more), at_ms=2_000)
    second = settle(2_000, keep=1)  # the newcomer pushes the order out
    assert second.leaving == [o.id]
    assert o.id in second.snapshotted  # a closed snapshot, with the ids, was written
    partition.loader = lambda i, stub: snapshots.restore(
        LOG,
        snapshots.find(written, i, stub.version, stub.closed).value,  # type: ignore[union-attr]
    )
    assert partition.seen(o.id, "c-1")
