"""Recorders that keep an eventsourcing application's events on Kafka.

Why a check-then-write is safe here (Kafka has no conditional write):
every write of a recorder runs under its write lock and goes out in one Kafka
transaction of a producer whose ``transactional.id`` names the writer
(application and purpose). Starting a second instance with the same id fences
the first (DESIGN.md principle 2): the broker aborts the first one's open
transaction and refuses its next commit (``WriterFenced``), so at any moment only
one live writer can commit to these partitions. Before its first write, once its
producer has fenced the others, a writer's index catches up with the partitions'
last stable offsets; every later commit there is its own, indexed as it commits.
So it has seen everything committed, and its version check is as good as a
unique key.

What this does not protect against: a writer with *another* transactional id
(or none) producing to the same topics, e.g. two applications configured with
different names over the same aggregate type, or a non-transactional tool.
Their duplicates cannot be prevented, only detected: the index keeps the first
committed record of an (aggregate id, version) and counts and logs the rest.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    ListenNotifySubscription,
    Notification,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    StoredEvent,
    Subscription,
)

from oms_events.eventstore.index import LogIndex
from oms_events.eventstore.records import RecordFormat
from oms_events.kafka.connection import producer
from oms_events.kafka.errors import KafkaError, ProducerFenced
from oms_events.kafka.port import Producer, RecordMetadata, TopicPartition
from oms_events.settings import Settings

SEND_TIMEOUT_S = 30.0
SUBSCRIPTION_POLL_S = 0.2  # Kafka has no LISTEN/NOTIFY: subscribers also poll


class WriterFenced(OperationalError):
    """A newer instance with this recorder's transactional id took over; stop writing."""


class KafkaAggregateRecorder(AggregateRecorder):
    """Stores events on ``oms.<type>.events`` (or ``.snapshots``), keyed by aggregate id."""

    def __init__(
        self,
        settings: Settings,
        record_format: RecordFormat,
        aggregate_types: Sequence[str],
        transactional_id: str,
        *,
        track_positions: bool = False,
        read_freshness_s: float = 0.0,
    ) -> None:
        self._settings = settings
        self._read_freshness_s = read_freshness_s
        self._format = record_format
        self.topics = [record_format.topic_of[t] for t in aggregate_types]
        self.transactional_id = transactional_id
        self._index = LogIndex(
            settings, self.topics, record_format.from_kafka, track_positions=track_positions
        )
        self._write_lock = threading.Lock()
        self._producer: Producer | None = None
        self._caught_up = False  # since this recorder's producer fenced the others

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Write all the events in one transaction, or raise IntegrityError and write none."""
        self._write(stored_events)
        return None

    def _write(self, stored_events: Sequence[StoredEvent]) -> list[RecordMetadata]:
        # Returns where each event was written, in order.
        if not stored_events:
            return []
        records = [self._format.to_kafka(s) for s in stored_events]
        for r in records:
            if r.topic not in self.topics:
                raise ProgrammingError(
                    f"event for topic {r.topic}, which this recorder does not index "
                    f"({', '.join(self.topics)}); add its type to OMS_EVENTSTORE_TYPES"
                )
        with self._write_lock:
            if not self._caught_up:
                # Once per producer, after init_transactions fenced every earlier
                # instance and settled what it had open: from then on only this
                # writer commits here, and it indexes its own commits (add_own), so a
                # ListOffsets before every write (a fifth of a single save) would
                # learn nothing a check needs. Reads still catch up as they did.
                self._writer()
                self._index.catch_up()
                self._caught_up = True
            self._index.check_unique(stored_events)
            metadata = self._send_in_transaction(records)
            # Committed: index our own write now, the caller may select at once.
            written = sorted(
                (
                    (TopicPartition(m.topic, m.partition), m.offset, s)
                    for m, s in zip(metadata, stored_events, strict=True)
                ),
                key=lambda w: (w[0].topic, w[0].partition, w[1]),
            )
            self._index.add_own(written)
            last: dict[TopicPartition, int] = {}
            for tp, offset, _ in written:
                last[tp] = max(last.get(tp, -1), offset)
            self._index.wait_stable(last)
        return metadata

    def _writer(self) -> Producer:
        # Created on first write only, so a reading instance never fences the writer.
        if self._producer is None:
            p = producer(
                self._settings,
                transactional_id=self.transactional_id,
            )
            p.init_transactions()
            self._producer = p
        return self._producer

    def _send_in_transaction(self, records: Sequence[Any]) -> list[RecordMetadata]:
        p = self._writer()
        try:
            p.begin_transaction()
            sent = [p.send(r.topic, r.value, key=r.key, headers=r.headers) for r in records]
            p.flush(SEND_TIMEOUT_S)
            metadata = [s.get(SEND_TIMEOUT_S) for s in sent]
            p.commit_transaction()
        except ProducerFenced as exc:
            self._drop_producer()
            raise WriterFenced(
                f"writer {self.transactional_id!r} was fenced by a newer instance; "
                "nothing of this write was committed"
            ) from exc
        except (KafkaError, OSError) as exc:
            with contextlib.suppress(Exception):
                p.abort_transaction()
            self._drop_producer()
            raise OperationalError(f"Kafka transaction failed, nothing committed: {exc}") from exc
        except BaseException:
            # Anything else mid-batch: abort, so no record of it becomes visible.
            try:
                p.abort_transaction()
            except Exception:
                self._drop_producer()
            raise
        return metadata

    def _drop_producer(self) -> None:
        self._caught_up = False  # a new producer fences again, then catches up again
        if self._producer is not None:
            with contextlib.suppress(Exception):
                self._producer.close(5)
            self._producer = None

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """One aggregate's events, from the index after catching up with the topics."""
        self._index.catch_up(max_age_s=self._read_freshness_s)
        return self._index.select(originator_id, gt, lte, desc, limit)

    @property
    def duplicates_seen(self) -> int:
        """Records skipped because their (id, version) was already committed."""
        return self._index.duplicates

    def close(self) -> None:
        """Close the producer and the index's consumer."""
        with self._write_lock:
            self._drop_producer()
        self._index.close()


class KafkaApplicationRecorder(KafkaAggregateRecorder, ApplicationRecorder):
    """An aggregate recorder that also numbers its events as one application sequence.

    Notification ids are 1-based positions among the committed records of the
    recorder's log, which must be a single partition (one aggregate type,
    ``OMS_KAFKA_PARTITIONS=1``). Offsets cannot be the ids: each transaction's commit
    marker takes an offset, and aborted records keep theirs, so offsets have gaps.
    Positions have none and every read_committed reader counts them alike.

    Across several partitions Kafka has no total order, so a recorder over more
    than one partition stores and loads aggregates but has no notification log
    (``insert_events`` returns None; the engine's processors read partitions
    directly, DESIGN.md principle 2).
    """

    def __init__(
        self,
        settings: Settings,
        record_format: RecordFormat,
        aggregate_types: Sequence[str],
        transactional_id: str,
        *,
        read_freshness_s: float = 0.0,
    ) -> None:
        super().__init__(
            settings,
            record_format,
            aggregate_types,
            transactional_id,
            track_positions=True,
            read_freshness_s=read_freshness_s,
        )
        parts = self._index.partitions
        self.log_partition: TopicPartition | None = parts[0] if len(parts) == 1 else None
        self._listeners: set[threading.Event] = set()

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Write all or none (see the base class); return the events' notification ids."""
        metadata = self._write(stored_events)
        for listener in list(self._listeners):
            listener.set()
        if self.log_partition is None:
            return None
        return [self._index.position(self.log_partition, m.offset) for m in metadata]

    def _log_partition(self) -> TopicPartition:
        if self.log_partition is None:
            raise NotSupportedError(
                f"no notification log over {len(self._index.partitions)} partitions: "
                "notification ids need a single-partition log (one aggregate type, "
                "OMS_KAFKA_PARTITIONS=1)"
            )
        return self.log_partition

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        """Events of the log by position, optionally only those of some class topics."""
        tp = self._log_partition()
        self._index.catch_up()
        entries = self._index.log(tp)
        first = 1 if start is None else (start if inclusive_of_start else start + 1)
        last = len(entries) if stop is None else min(stop, len(entries))
        results: list[Notification] = []
        for position in range(max(first, 1), last + 1):
            s = entries[position - 1]
            if topics and s.topic not in topics:
                continue
            results.append(
                Notification(
                    id=position,
                    originator_id=s.originator_id,
                    originator_version=s.originator_version,
                    topic=s.topic,
                    state=s.state,
                )
            )
            if len(results) == limit:
                break
        return results

    def max_notification_id(self) -> int | None:
        """The position of the last committed event, or None for an empty log."""
        tp = self._log_partition()
        self._index.catch_up()
        return len(self._index.log(tp)) or None

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        """Notifications after ``gt``, blocking for new ones (woken by writes, or polling)."""
        self._log_partition()
        return KafkaSubscription(self, gt=gt, topics=topics)

    def listen(self, event: threading.Event) -> None:
        """Set ``event`` after each write of this recorder."""
        self._listeners.add(event)

    def unlisten(self, event: threading.Event) -> None:
        """Stop setting ``event``."""
        self._listeners.discard(event)


class KafkaSubscription(ListenNotifySubscription[KafkaApplicationRecorder]):
    """The library's pull loop, woken by our writes and every SUBSCRIPTION_POLL_S for others'."""

    def __init__(
        self, recorder: KafkaApplicationRecorder, gt: int | None = None, topics: Sequence[str] = ()
    ) -> None:
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        recorder.listen(self._has_been_notified)

    def _loop_on_pull(self) -> None:
        try:
            self._pull()
            while not self._has_been_stopped:
                self._has_been_notified.wait(timeout=SUBSCRIPTION_POLL_S)
                self._pull()
        except BaseException as exc:
            if self._thread_error is None:
                self._thread_error = exc
            self.stop()

    def stop(self) -> None:
        """Stop pulling and stop being woken by the recorder."""
        super().stop()
        self._recorder.unlisten(self._has_been_notified)
