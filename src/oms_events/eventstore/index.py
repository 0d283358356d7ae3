"""The in-memory index of an event store's topics: what Kafka cannot look up for us.

Kafka has no "select where originator_id = ?" and no conditional write, so a
recorder keeps every committed record of its topics in memory, by aggregate id
and version (for ``select_events`` and the uniqueness check) and, for a
single-partition log, by position (for notification ids). It is filled by a
``read_committed`` consumer assigned to every partition from the beginning, and
brought up to the partitions' last stable offsets before each read and write.
Catching up costs one ListOffsets round trip when nothing moved.

A writer's own records enter the index as soon as its transaction commits
(:meth:`LogIndex.add_own`), not when the consumer reads them back: with
librdkafka the consumer passes a transaction's marker only on the end-of-partition
event after an empty fetch, so waiting to read our own write cost tens of
milliseconds per save (30 saves/s). The consumer still reads those records later
and skips them by offset; a partition whose last stable offset is just past our
own last write (its record and its marker) has nothing new to read. A save still
returns only once the last stable offsets are past its records
(:meth:`LogIndex.wait_stable`, one ListOffsets round trip or a few), so every
other reader sees what a save returned from, as with PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence

import structlog
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent

from oms_events import eventlog
from oms_events.kafka.connection import READ_TO_END_WAIT_MS, consumer
from oms_events.kafka.port import Record, TopicPartition
from oms_events.settings import Settings

log = structlog.get_logger(__name__)

CATCH_UP_TIMEOUT_S = 60.0


class LogIndex:
    """Committed records of some topics, by (aggregate id, version) and by position."""

    def __init__(
        self,
        settings: Settings,
        topic_names: Sequence[str],
        read: Callable[[Record], StoredEvent],
        *,
        track_positions: bool = False,
    ) -> None:
        self._read = read
        self._track_positions = track_positions
        self._lock = threading.RLock()
        self._consumer = consumer(
            settings,
            group_id=None,  # assigned, never subscribed: no group, no rebalances
            max_poll_records=20_000,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=16 * 1024 * 1024,
            # Every read and write catches up to the end: see READ_TO_END_WAIT_MS.
            fetch_max_wait_ms=READ_TO_END_WAIT_MS,
        )
        self.partitions = self._partitions(topic_names)
        self._consumer.assign(self.partitions)
        self._consumer.seek_to_beginning(*self.partitions)
        self._versions: dict[str, dict[int, StoredEvent]] = {}
        # Per partition: the committed records in order (position = index + 1) and
        # offset -> position. Kept only for a log that serves notification ids.
        self._log: dict[TopicPartition, list[StoredEvent]] = {tp: [] for tp in self.partitions}
        self._position_at: dict[TopicPartition, dict[int, int]] = {tp: {} for tp in self.partitions}
        self._seen_end: Mapping[TopicPartition, int] = {}
        # Offsets of our own committed records added by add_own and not read back yet,
        # and per partition the offset just past our last write's commit marker.
        self._own: dict[TopicPartition, set[int]] = {}
        self._own_end: dict[TopicPartition, int] = {}
        self._checked_at = float("-inf")
        self.duplicates = 0

    def _partitions(self, topic_names: Sequence[str]) -> list[TopicPartition]:
        deadline = time.monotonic() + 10
        found: list[TopicPartition] = []
        for name in topic_names:
            ids = self._consumer.partitions_for_topic(name)
            while not ids and time.monotonic() < deadline:
                time.sleep(0.05)
                ids = self._consumer.partitions_for_topic(name)
            if not ids:
                raise OperationalError(f"topic {name} does not exist (run `oms topics apply`)")
            found += [TopicPartition(name, p) for p in sorted(ids)]
        return found

    def catch_up(self, max_age_s: float = 0.0) -> None:
        """Consume every committed record up to the last stable offsets.

        ``max_age_s`` > 0 lets a read skip the ListOffsets round trip (about 1 ms,
        the bulk of a warm ``select_events``) when the last one is that recent.
        """
        deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
        with self._lock:
            if max_age_s > 0 and time.monotonic() - self._checked_at < max_age_s:
                return
            ends = self._consumer.end_offsets(self.partitions)
            self._checked_at = time.monotonic()
            if ends == self._seen_end:
                return
            pending = [tp for tp in self.partitions if self._behind(tp, ends[tp])]
            while pending:
                self._check_deadline(deadline)
                # Short polls: with librdkafka the position passes a transaction's
                # marker only on the end-of-partition event after an empty fetch, which
                # a 200 ms poll waited out on every write (5 saves/s; 37 with 20 ms).
                for tp, records in self._consumer.poll(timeout_ms=20).items():
                    for record in records:
                        self._add(tp, record)
                pending = [tp for tp in pending if self._behind(tp, ends[tp])]
            self._seen_end = ends

    def _behind(self, tp: TopicPartition, end: int) -> bool:
        # Our own writes are indexed already: the consumer need not read past them.
        return max(self._consumer.position(tp), self._own_end.get(tp, 0)) < end

    def wait_stable(self, past: Mapping[TopicPartition, int]) -> None:
        """Return once every partition's last stable offset is past ``past`` (offsets of
        records we just committed): a commit returns before its markers are written,
        and until then no other reader sees the records. Waiting here keeps
        PostgreSQL's promise that what a save returned from, every reader sees."""
        deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
        partitions = list(past)
        while True:
            ends = self._consumer.end_offsets(partitions)
            if all(ends[tp] > offset for tp, offset in past.items()):
                return
            self._check_deadline(deadline)
            time.sleep(0.001)

    def add_own(self, written: Sequence[tuple[TopicPartition, int, StoredEvent]]) -> None:
        """Index records this process has just committed in one transaction, given as
        (partition, offset, event) in offset order, without reading them back."""
        with self._lock:
            for tp, offset, stored in written:
                self._own.setdefault(tp, set()).add(offset)
                self._store(tp, offset, stored)
                # One producer per partition (the fenced writer): the commit marker
                # takes the offset after our last record, the stable offset the next.
                self._own_end[tp] = max(self._own_end.get(tp, 0), offset + 2)

    @staticmethod
    def _check_deadline(deadline: float) -> None:
        if time.monotonic() > deadline:
            raise OperationalError(f"event store index not caught up in {CATCH_UP_TIMEOUT_S} s")

    def _add(self, tp: TopicPartition, record: Record) -> None:
        if eventlog.header(record.headers, "event") == eventlog.CHECKPOINT:
            return  # the engine's note of where its snapshots cover the events: no event
        own = self._own.get(tp)
        if own and record.offset in own:
            own.discard(record.offset)  # indexed when we committed it
            return
        self._store(tp, record.offset, self._read(record))

    def _store(self, tp: TopicPartition, offset: int, stored: StoredEvent) -> None:
        versions = self._versions.setdefault(str(stored.originator_id), {})
        if stored.originator_version in versions:
            # Only a writer outside the one-writer rule can put this here; the first
            # committed record of a version wins, as a unique key would, on every reader.
            self.duplicates += 1
            log.warning(
                "eventstore.duplicate_version",
                topic=tp.topic,
                partition=tp.partition,
                offset=offset,
                originator_id=str(stored.originator_id),
                version=stored.originator_version,
            )
            return
        versions[stored.originator_version] = stored
        if self._track_positions:
            entries = self._log[tp]
            entries.append(stored)
            self._position_at[tp][offset] = len(entries)

    def check_unique(self, stored_events: Sequence[StoredEvent]) -> None:
        """Raise IntegrityError if any (id, version) is recorded or repeated in the batch."""
        with self._lock:
            new: set[tuple[str, int]] = set()
            for s in stored_events:
                key = (str(s.originator_id), s.originator_version)
                if s.originator_version in self._versions.get(key[0], {}):
                    raise IntegrityError(f"Stored event already recorded: {s}")
                if key in new:
                    raise IntegrityError(f"Stored events are not unique: {s}")
                new.add(key)

    def select(
        self,
        originator_id: object,
        gt: int | None,
        lte: int | None,
        desc: bool,
        limit: int | None,
    ) -> list[StoredEvent]:
        """One aggregate's stored events, as ``AggregateRecorder.select_events`` selects."""
        with self._lock:
            versions = self._versions.get(str(originator_id))
            if not versions:
                return []
            chosen = sorted(
                v for v in versions if (gt is None or v > gt) and (lte is None or v <= lte)
            )
            if desc:
                chosen.reverse()
            if limit is not None:
                chosen = chosen[:limit]
            return [versions[v] for v in chosen]

    def log(self, tp: TopicPartition) -> list[StoredEvent]:
        """The committed records of a position-tracked partition, in order (a copy)."""
        with self._lock:
            return list(self._log[tp])

    def position(self, tp: TopicPartition, offset: int) -> int:
        """The 1-based position of the record at ``offset`` (it must be indexed)."""
        with self._lock:
            return self._position_at[tp][offset]

    def close(self) -> None:
        """Close the consumer."""
        with self._lock:
            self._consumer.close()
