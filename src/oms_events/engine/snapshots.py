"""Aggregate snapshots in the engine: what a processor keeps in memory, what it writes to
``oms.<type>.snapshots``, and how a partition is rebuilt from snapshots plus the events
after them. Pure functions over a :class:`Partition` and record iterables (objects with
``.key .value .headers .offset .timestamp``); the Kafka reads are in ``partition.py``.

What a snapshots partition holds (compacted, so the newest record per key survives):

* one snapshot per aggregate, at its version when written (``eventlog`` format); an
  aggregate written as it *left memory* carries the header ``closed=1`` and the ids of
  the commands it applied inside the redelivery window;
* one checkpoint (key ``SnapshotCheckpoint``): every event of the events partition
  older than its ``events_since`` is covered by a snapshot.

When snapshots are written, in the transaction of the events they cover:

* an aggregate in memory that has ``every`` events since its last snapshot;
* an aggregate the engine has nothing left to decide about on its own (see
  :func:`dormant`: a completed, cancelled, rejected or allocated order, any
  shipment) *rests*: it stays in memory among the ``keep`` most recently touched
  resting aggregates of its partition, and *leaves memory* (snapshot first) when newer
  ones push it out; it is reloaded from its snapshot when a command needs it. Keeping
  the recent ones matters: an allocated order and its shipment hear from the warehouse
  within seconds under load, and reloading each from Kafka (~14 ms) capped the engine
  near 150 orders/s when they left at once;
* every aggregate with events since its snapshot, at a clean shutdown.

A rebuild reads the whole snapshots partition (one record per aggregate), decodes the
snapshots of aggregates still in memory, and then replays the events partition from
``min(checkpoint, now - redelivery window)`` (both in record timestamps): events newer
than an aggregate's snapshot are applied, and the command ids of the window are learnt
from their headers. Without a checkpoint (a partition written before snapshots), or
when the events read do not continue the snapshots (a version gap), it replays the
whole partition, as before.

Timestamps: a record's Kafka timestamp is set when it is sent, after the transaction's
start time that this module records (same clock), so ``since`` values are lower bounds;
:data:`CLOCK_STEP_MS` covers a wall clock stepping back on one host.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice, takewhile
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.domain import Aggregate, Snapshot

from oms_events.domain.order import Order, OrderStatus
from oms_events.domain.shipment import Shipment
from oms_events.eventlog import CHECKPOINT, EventLog, header
from oms_events.eventtypes import SNAPSHOT
from oms_events.privacy.vault import sealing

Encoded = tuple[bytes, bytes, list[tuple[str, bytes]]]

CLOSED = "closed"  # header of a snapshot written as its aggregate left memory
# Header of such a snapshot: when (epoch ms) a timer of the engine's own moves the
# aggregate (a delivered order's return window closing). A restart learns it from the
# header alone, without reading the snapshot back, and arms the timer again.
WAKE = "wake"
CLOCK_STEP_MS = 1_000
_KEY_BATCH = 1_000  # snapshots whose order keys are read in one query on a rebuild

# Orders the engine still drives by itself: reservations, payment timers, review.
_ACTIVE_ORDERS = frozenset(
    {OrderStatus.PENDING, OrderStatus.PRE_ORDER, OrderStatus.ON_HOLD, OrderStatus.CONFIRMED}
)


def dormant(aggregate: Any) -> bool:
    """True for an aggregate that only outside input (a warehouse, a carrier, an
    operator) can move on: it leaves memory and is reloaded when a command comes."""
    if isinstance(aggregate, Order):
        return aggregate.status not in _ACTIVE_ORDERS
    # Every step of a shipment is a warehouse's or a carrier's report, hours apart: no
    # timer, no saga step of the engine's own, so it waits out of memory.
    return isinstance(aggregate, Shipment)


class Stub(NamedTuple):
    """Where an aggregate's newest snapshot is: written at or after ``since_ms``, at
    ``version``. All that stays in memory of an aggregate that left it."""

    since_ms: int
    version: int
    # Written as the aggregate left memory, so it carries the command ids of the window;
    # one written while it stayed (every N events, stale) does not.
    closed: bool = False
    wake_ms: int | None = None  # see WAKE: only on a closed snapshot


# Reads the newest snapshot of an aggregate that left memory: its aggregate and ids.
Loader = Callable[[UUID, Stub], tuple[Aggregate, list[str]]]
# When a timer of the engine's own moves an aggregate (epoch ms), or None (see WAKE).
Wake = Callable[[Any], int | None]


def never(aggregate: Any) -> int | None:
    """No timer of the engine's own moves ``aggregate``."""
    return None


@dataclass
class Partition:
    """The aggregates of one partition a processor owns.

    ``aggregates`` holds those in memory; ``snapshots`` where the newest snapshot of
    each snapshotted aggregate is, so one that left memory is found again (``get``).
    ``commands_seen`` holds, per aggregate in memory, the ids of the commands it
    applied inside the redelivery window (id -> epoch ms): a command published twice
    upstream (two offsets, one id) has no second effect, even without a natural key
    (ReceiveStock). Kafka transactions already stop the engine's own redeliveries.
    """

    number: int
    aggregates: dict[UUID, Aggregate] = field(default_factory=dict)
    commands_seen: dict[UUID, dict[str, int]] = field(default_factory=dict)
    snapshots: dict[UUID, Stub] = field(default_factory=dict)
    # In memory, with events no snapshot covers: (timestamp of the first, how many), in
    # the order of those first timestamps (a transaction's start time only grows).
    unsnapshotted: dict[UUID, tuple[int, int]] = field(default_factory=dict)
    touched: set[UUID] = field(default_factory=set)  # changed or loaded since the last commit
    # Dormant aggregates still in memory, least recently touched first (see settle).
    resting: OrderedDict[UUID, None] = field(default_factory=OrderedDict)
    checkpoint_ms: int | None = None  # events_since last written (or read)
    loader: Loader | None = None
    loads: int = 0
    dirty: bool = False  # an aggregate may hold half a command: rebuild after commit

    def get(self, aggregate_id: UUID) -> Any:
        """The aggregate (reloaded from its snapshot if it left memory), or None if it
        has no events yet."""
        aggregate = self.aggregates.get(aggregate_id)
        if aggregate is not None:
            return aggregate
        stub = self.snapshots.get(aggregate_id)
        if stub is None or self.loader is None:
            return None
        aggregate, command_ids = self.loader(aggregate_id, stub)
        self.loads += 1
        self.aggregates[aggregate_id] = aggregate
        self.commands_seen[aggregate_id] = dict.fromkeys(command_ids, stub.since_ms)
        self.touched.add(aggregate_id)  # leaves memory again after this transaction
        return aggregate

    def seen(self, aggregate_id: UUID | None, command_id: str) -> bool:
        """True when the aggregate already applied the command with this id."""
        if aggregate_id is None or self.get(aggregate_id) is None:
            return False
        return command_id in self.commands_seen.get(aggregate_id, ())

    def record(self, aggregate: Aggregate, command_id: str, events: int, at_ms: int) -> None:
        """Note that ``aggregate`` took ``events`` new events for ``command_id`` in the
        transaction that started at ``at_ms``."""
        aggregate_id = aggregate.id
        self.aggregates[aggregate_id] = aggregate
        self.commands_seen.setdefault(aggregate_id, {})[command_id] = at_ms
        first, count = self.unsnapshotted.get(aggregate_id, (at_ms, 0))
        self.unsnapshotted[aggregate_id] = (first, count + events)
        self.touched.add(aggregate_id)

    def apply(self, event: Any, command_id: str | None, at_ms: int = 0) -> None:
        """Fold one stored domain event into the aggregate it belongs to."""
        aggregate_id = event.originator_id
        self.aggregates[aggregate_id] = event.mutate(self.aggregates.get(aggregate_id))
        if command_id:
            self.commands_seen.setdefault(aggregate_id, {})[command_id] = at_ms


@dataclass
class Settlement:
    """What one transaction writes to the snapshots partition, and what becomes of
    memory once it commits."""

    records: list[Encoded] = field(default_factory=list)
    snapshotted: dict[UUID, int] = field(default_factory=dict)  # id -> version written
    leaving: list[UUID] = field(default_factory=list)
    checkpoint_ms: int | None = None
    at_ms: int = 0
    wakes: dict[UUID, int] = field(default_factory=dict)  # id -> WAKE of its closed snapshot


def settle(
    partition: Partition,
    log: EventLog,
    aggregate_type: str,
    at_ms: int,
    every: int,
    window_ms: int,
    final: bool = False,
    keep: int = 0,
    wake: Wake = never,
) -> Settlement:
    """The snapshots and checkpoint the transaction that started at ``at_ms`` writes.

    ``final`` (a clean shutdown) snapshots every aggregate with unsnapshotted events.
    ``wake``: when a timer of the service moves an aggregate, written on the snapshot it
    leaves memory with (see WAKE).
    ``keep``: how many dormant aggregates stay in memory (the most recently touched);
    the older ones leave with this transaction.
    """
    out = Settlement(at_ms=at_ms)
    resting = partition.resting
    for aggregate_id in partition.touched:
        touched = partition.aggregates.get(aggregate_id)
        if touched is not None and dormant(touched):
            resting[aggregate_id] = None
            resting.move_to_end(aggregate_id)
        else:
            resting.pop(aggregate_id, None)
    evicted = set(islice(resting, max(0, len(resting) - keep)))
    # Events older than the redelivery window that no snapshot covers would hold the
    # checkpoint (and so a restart's replay) back; a rebuild reads the window anyway,
    # so snapshotting them once they are that old costs a restart nothing.
    stale = {
        aggregate_id
        for aggregate_id, _ in takewhile(
            lambda entry: entry[1][0] < at_ms - window_ms, partition.unsnapshotted.items()
        )
    }
    candidates = set(partition.unsnapshotted) if final else set(partition.touched)
    for aggregate_id in candidates | evicted | stale:
        aggregate = partition.aggregates.get(aggregate_id)
        if aggregate is None:
            continue
        _, count = partition.unsnapshotted.get(aggregate_id, (at_ms, 0))
        leaving = aggregate_id in evicted
        if leaving or count >= every or final:
            # Old ids leave memory at the same cadence as snapshots are written: pruning
            # a busy item's ids on every transaction would cost more than they weigh.
            seen = partition.commands_seen.get(aggregate_id, {})
            recent = {c: t for c, t in seen.items() if t >= at_ms - window_ms}
            partition.commands_seen[aggregate_id] = recent
        stub = partition.snapshots.get(aggregate_id)
        # Leaving with nothing new still needs a snapshot that carries its command ids,
        # unless the newest one is such a snapshot already.
        unsaved = count or stub is None or (leaving and not stub.closed)
        due = leaving or final or count >= every or aggregate_id in stale
        if unsaved and due:
            key, value, headers = log.encode_snapshot(
                Snapshot.take(aggregate), aggregate_type, recent if leaving else ()
            )
            if leaving:
                headers.append((CLOSED, b"1"))
                if (wake_ms := wake(aggregate)) is not None:
                    headers.append((WAKE, str(wake_ms).encode()))
                    out.wakes[aggregate_id] = wake_ms
            out.records.append((key, value, headers))
            out.snapshotted[aggregate_id] = aggregate.version
        written = aggregate_id in out.snapshotted
        if leaving and (written or (count == 0 and aggregate_id in partition.snapshots)):
            out.leaving.append(aggregate_id)
    # The oldest unsnapshotted event left is the first such entry: entries are kept in
    # the order of their first event (see Partition.unsnapshotted), so this is not a scan.
    since = next(
        (first for i, (first, _) in partition.unsnapshotted.items() if i not in out.snapshotted),
        at_ms,
    )
    if since != partition.checkpoint_ms:
        out.records.append(log.encode_checkpoint(aggregate_type, partition.number, since))
        out.checkpoint_ms = since
    return out


def committed(partition: Partition, settlement: Settlement) -> None:
    """The settlement's transaction committed: its snapshots are the newest, and the
    aggregates that left memory go."""
    for aggregate_id, version in settlement.snapshotted.items():
        closed = aggregate_id in settlement.leaving
        wake_ms = settlement.wakes.get(aggregate_id)
        partition.snapshots[aggregate_id] = Stub(settlement.at_ms, version, closed, wake_ms)
        partition.unsnapshotted.pop(aggregate_id, None)
    for aggregate_id in settlement.leaving:
        partition.aggregates.pop(aggregate_id, None)
        partition.commands_seen.pop(aggregate_id, None)
        partition.resting.pop(aggregate_id, None)
    if settlement.checkpoint_ms is not None:
        partition.checkpoint_ms = settlement.checkpoint_ms
    partition.touched.clear()


def restore(log: EventLog, value: bytes) -> tuple[Aggregate, list[str]]:
    """The aggregate a snapshot record holds (its class's upcasters applied), and the
    command ids it carries."""
    snapshot, command_ids = log.snapshot(value)
    aggregate = snapshot.mutate(None)
    return aggregate, command_ids  # type: ignore[return-value]


def find(
    records: Iterable[Any], aggregate_id: UUID, version: int, closed: bool = False
) -> Any | None:
    """The snapshot record of ``aggregate_id`` at ``version`` among ``records``, or None.

    A snapshot taken while the aggregate stayed in memory and the one written as it left
    (``closed``, carrying its command ids) can share a version: for a closed stub the
    first closed record is the one (and the read stops there); otherwise the newest.
    """
    key = str(aggregate_id).encode()
    found = None
    for r in records:
        if (
            r.key == key
            and header(r.headers, "version") == str(version)
            and header(r.headers, "event") == SNAPSHOT
        ):
            if closed and header(r.headers, CLOSED):
                return r
            found = r
    return found


def replay_one(
    records: Iterable[Any], aggregate_id: UUID, log: EventLog
) -> tuple[Aggregate, list[str]]:
    """The aggregate ``aggregate_id`` folded from all its events among ``records``, and
    the command ids they carry; LookupError if it has none."""
    key = str(aggregate_id).encode()
    aggregate: Any = None
    command_ids: list[str] = []
    for r in records:
        if r.key == key:
            event: Any = log.event(r.value)
            aggregate = event.mutate(aggregate)
            command_id = header(r.headers, "command_id")
            if command_id:
                command_ids.append(command_id)
    if aggregate is None:
        raise LookupError(f"no events of {aggregate_id}")
    return aggregate, command_ids


@dataclass
class Rebuilt:
    """A rebuilt partition and what it took: the figures a restart logs."""

    partition: Partition
    snapshots: int = 0  # snapshot records read
    events: int = 0  # event records read
    applied: int = 0  # of which applied (newer than their snapshot)
    since_ms: int | None = None  # where the events were read from; None: the beginning


def rebuild(
    number: int,
    snapshot_records: Iterable[Any],
    events_from: Callable[[int | None], Iterable[Any]],
    log: EventLog,
    now_ms: int,
    window_ms: int,
    load: Loader,
) -> Rebuilt:
    """The state of partition ``number``: its newest snapshots (``snapshot_records``, the
    whole snapshots partition in offset order), then the events ``events_from(since)``
    returns (records with timestamp >= since, in offset order; None: all of them).

    Only the snapshots of aggregates still in memory are kept while reading (those
    written as an aggregate left memory are most of them); ``load`` reads one back
    when events follow it. The result's partition reloads with ``load`` too.
    """
    newest: dict[UUID, tuple[Stub, bytes | None]] = {}
    checkpoint: int | None = None
    read = 0
    for r in snapshot_records:
        read += 1
        name = header(r.headers, "event")
        if name == CHECKPOINT:
            checkpoint = log.checkpoint(r.value)
            continue
        if name != SNAPSHOT:
            continue
        aggregate_id = UUID(r.key.decode())
        kept = newest.get(aggregate_id)
        version = _version(r)
        if kept is None or version > kept[0].version:
            value = None if header(r.headers, CLOSED) else r.value
            wake = header(r.headers, WAKE) if value is None else None
            stub = Stub(r.timestamp, version, value is None, int(wake) if wake else None)
            newest[aggregate_id] = (stub, value)
    window = now_ms - window_ms
    if checkpoint is not None:
        since = min(checkpoint, window) - CLOCK_STEP_MS
        try:
            result = _replay(number, newest, events_from(since), log, window, load)
            result.since_ms = since
        except VersionGap:
            # The events read do not continue the snapshots (a lost checkpoint rule,
            # a clock far off): the whole partition is the truth.
            result = _replay(number, {}, events_from(None), log, window, load)
    else:
        result = _replay(number, {}, events_from(None), log, window, load)
    result.snapshots = read
    result.partition.checkpoint_ms = checkpoint
    result.partition.loader = load
    return result


class VersionGap(Exception):
    """The events read do not continue an aggregate's snapshot (or its previous event)."""


def _version(r: Any) -> int:
    return int(header(r.headers, "version") or 0)


def _replay(
    number: int,
    newest: dict[UUID, tuple[Stub, bytes | None]],
    events: Iterable[Any],
    log: EventLog,
    window_ms: int,
    load: Loader,
) -> Rebuilt:
    partition = Partition(number)
    keys = sealing(log.codec)
    kept = list(newest.items())
    for start in range(0, len(kept), _KEY_BATCH):
        chunk = kept[start : start + _KEY_BATCH]
        # The order keys their tokens need, one query per chunk instead of one per order.
        keys.prefetch(value for _, (_, value) in chunk if value is not None)
        for aggregate_id, (written, value) in chunk:
            partition.snapshots[aggregate_id] = written
            if value is not None:
                partition.aggregates[aggregate_id], _ = restore(log, value)
    newest.clear()  # the values are in the aggregates now
    result = Rebuilt(partition)
    for r in events:
        result.events += 1
        aggregate_id = UUID(r.key.decode())
        version = _version(r)
        stub = partition.snapshots.get(aggregate_id)
        command_id = header(r.headers, "command_id")
        if stub is not None and version <= stub.version:
            # Already in the snapshot; only its command id is worth knowing, for an
            # aggregate still in memory (one out of memory keeps them in its snapshot).
            if command_id and r.timestamp >= window_ms and aggregate_id in partition.aggregates:
                partition.commands_seen.setdefault(aggregate_id, {})[command_id] = r.timestamp
            continue
        if aggregate_id not in partition.aggregates and stub is not None:
            # Out of memory, yet events follow its snapshot: bring it back first.
            aggregate, ids = load(aggregate_id, stub)
            partition.aggregates[aggregate_id] = aggregate
            partition.commands_seen[aggregate_id] = dict.fromkeys(ids, stub.since_ms)
        current = partition.aggregates.get(aggregate_id)
        if version != (current.version if current is not None else 0) + 1:
            raise VersionGap(f"{aggregate_id} v{version} after v{current and current.version}")
        recent = command_id if command_id and r.timestamp >= window_ms else None
        partition.apply(log.event(r.value), recent, r.timestamp)
        first, count = partition.unsnapshotted.get(aggregate_id, (r.timestamp, 0))
        partition.unsnapshotted[aggregate_id] = (first, count + 1)
        result.applied += 1
    # Ordered by first timestamp, as settle() expects (owners' clocks may differ).
    partition.unsnapshotted = dict(sorted(partition.unsnapshotted.items(), key=lambda e: e[1][0]))
    # Aggregates that are done rest (and the oldest leave memory) with the next
    # transaction, with a snapshot first if events were replayed on top of theirs.
    for aggregate_id, aggregate in partition.aggregates.items():
        if dormant(aggregate):
            partition.touched.add(aggregate_id)
    return result


__all__ = [
    "CLOSED",
    "WAKE",
    "Partition",
    "Rebuilt",
    "Settlement",
    "Stub",
    "VersionGap",
    "committed",
    "dormant",
    "find",
    "rebuild",
    "replay_one",
    "restore",
    "settle",
]
