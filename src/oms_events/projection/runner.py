"""The batching consumer behind ``oms project``: Kafka records in, PostgreSQL rows out.

Each batch — up to ``batch_size`` records or ``max_wait`` seconds — is written in
one PostgreSQL transaction together with the offsets it reaches. The consumer is
assigned its partitions directly and seeks to the offsets stored in the database:
Kafka's group offsets play no part in correctness, so a SIGKILL at any moment
loses nothing and repeats nothing.

A record the projection cannot decode or apply does not stop it: it goes to
``oms.deadletter`` with the reason (:mod:`oms_events.deadletter`), flushed before the
batch's transaction commits (so at least once; the exceptions projection keys the row
on the input, so a repeat adds nothing), and the projection moves on.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog
from psycopg import sql

from oms_events import deadletter, eventlog, topics
from oms_events.avro.codec import Codec, CodecUnavailable, DecodeError
from oms_events.avro.registry import codec_from_settings
from oms_events.kafka import port
from oms_events.kafka.connection import consumer, producer
from oms_events.kafka.port import Consumer, Producer, TopicPartition
from oms_events.kafka.security import client_security
from oms_events.privacy.vault import sealing
from oms_events.projection import offsets
from oms_events.projection.metrics import Metrics
from oms_events.projection.migrate import use_schema
from oms_events.projection.rowcache import RowCache
from oms_events.projection.spec import DeadLetterRecord, Projection, Record
from oms_events.settings import Settings

log = structlog.get_logger(__name__)

Progress = Callable[["Runner", int], None]

# Errors that say nothing about the record: the database is gone or busy. They stop the
# batch instead of dead-lettering good input; ``oms project`` waits and reconnects.
NOT_THE_RECORD = (psycopg.OperationalError, psycopg.InterfaceError, offsets.OffsetConflict)


# A consumer assigned by hand sometimes fetches nothing more after a broker restart
# although its partitions hold records past its positions (librdkafka #5153, open in
# 2.16; the broker-outage fault test once saw the inventory projection read 0 events in
# a whole run while the tracking one, in the same process, read on); a new consumer
# reads them. After this long without a record the runner looks whether it is behind.
STALLED_S = 20.0


class MissingTopic(LookupError):
    """A topic the projection reads has not been created."""


def connect(
    dsn: str, schema: str, application_name: str, create: bool = True
) -> psycopg.Connection[Any]:
    """An autocommit connection whose unqualified names resolve in ``schema``
    (created unless ``create`` is false).

    Transactions are explicit (``conn.transaction()``), one per batch.
    """
    conn = psycopg.connect(dsn, autocommit=True, application_name=application_name)
    if create:
        use_schema(conn, schema)
    else:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    return conn


class Runner:
    """Runs one projection against one schema; ``step()`` applies one batch."""

    def __init__(
        self,
        settings: Settings,
        projection: Projection,
        conn: psycopg.Connection[Any],
        *,
        batch_size: int = 5000,
        max_wait: float = 0.2,
        as_of: datetime | None = None,
        codec: Codec | None = None,
        dead_letters: bool = True,
    ) -> None:
        """``dead_letters`` false (replays): refused records are only logged and counted,
        since the live projection has dead-lettered them already."""
        self.settings = settings
        self.projection = projection
        self.processor = f"projection.{projection.name}"  # who refused it, in dead letters
        self.dead_letters = dead_letters
        self._refused: list[tuple[Any, deadletter.Reason]] = []
        self._letters: Producer | None = None
        self.conn = conn
        self.batch_size = batch_size
        self.max_wait = max_wait
        self.as_of = as_of
        self.codec: Codec = codec or codec_from_settings(settings)
        self.sealing = sealing(self.codec)
        self.events = eventlog.EventLog(
            self.codec, settings=settings, text_uuids=projection.text_uuids
        )
        self.metrics = Metrics()
        self.cache = RowCache(settings.projections.row_cache_size)
        self.dead_letter_topic = topics.name(settings, topics.DEADLETTER)
        self.topics = [topics.name(settings, t) for t in projection.topics]
        self.consumer: Consumer = self._consumer()
        self._quiet_since = time.monotonic()  # when the positions last moved
        self.partitions: list[TopicPartition] = []
        for topic in self.topics:
            found = self.consumer.partitions_for_topic(topic)
            if not found:
                self.consumer.close()
                # Kafka answers a topic this principal may not describe as unknown.
                user = client_security(settings).username or "(none)"
                raise MissingTopic(
                    f"topic {topic} does not exist, or the Kafka user {user} may not read it: "
                    "run `oms topics apply` (it writes the prefix's ACLs too)"
                )
            self.partitions += [TopicPartition(topic, p) for p in sorted(found)]
        self.consumer.assign(self.partitions)
        self.positions: dict[TopicPartition, int] = {}
        self.reset()

    def _consumer(self) -> Consumer:
        return consumer(
            self.settings,
            group_id=None,
            client_id=self.projection.group,
            max_poll_records=self.batch_size,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )

    def _unstall(self) -> None:
        """Read on with a new consumer when the old one brought nothing for STALLED_S
        while the partitions hold records past the positions (see STALLED_S)."""
        now = time.monotonic()
        if now - self._quiet_since < STALLED_S:
            return
        self._quiet_since = now  # looked: the next look after another STALLED_S
        behind = self.lag()
        if not behind:
            return
        log.warning(
            "no records while behind; reading on with a new consumer",
            projection=self.name,
            behind=behind,
            quiet_s=STALLED_S,
        )
        self.consumer.close()
        self.consumer = self._consumer()
        self.consumer.assign(self.partitions)
        self._rewind()

    def reset(self) -> None:
        """Seek every partition to the offset the database holds (creating rows at 0).

        Cached rows are forgotten too: call it whenever partitions change hands.
        """
        with self.conn.transaction():
            offsets.ensure(
                self.conn,
                self.projection.name,
                [(tp.topic, tp.partition) for tp in self.partitions],
            )
            stored = offsets.load(self.conn, self.projection.name)
        self.cache.clear()
        for tp in self.partitions:
            self.positions[tp] = stored[(tp.topic, tp.partition)]
        self._rewind()

    def _rewind(self) -> None:
        for tp in self.partitions:
            self.consumer.seek(tp, self.positions[tp])

    def reconnect(self, conn: psycopg.Connection[Any]) -> None:
        """Go on over ``conn`` after the old connection was lost: the offsets committed
        with the rows say where to resume (a batch whose commit was cut off is either in
        the database, offsets included, or not at all)."""
        with contextlib.suppress(psycopg.Error):
            self.conn.close()
        self.conn = conn
        self.reset()

    def end_offsets(self) -> dict[TopicPartition, int]:
        """The last stable offset of every partition (read_committed end)."""
        ends: dict[TopicPartition, int] = self.consumer.end_offsets(self.partitions)
        return ends

    def lag(self, ends: dict[TopicPartition, int] | None = None) -> int:
        """Records between the stored positions and ``ends`` (default: now)."""
        ends = ends or self.end_offsets()
        return sum(max(0, ends[tp] - self.positions[tp]) for tp in self.partitions)

    def _poll(self) -> list[port.Record]:
        records: list[port.Record] = []
        deadline = time.monotonic() + self.max_wait
        while len(records) < self.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            polled = self.consumer.poll(
                timeout_ms=int(remaining * 1000), max_records=self.batch_size - len(records)
            )
            if not polled:
                break
            for batch in polled.values():
                records.extend(batch)
        return records

    def _decode(
        self, raw: list[port.Record]
    ) -> tuple[list[Record], dict[tuple[str, int], datetime]]:
        wanted = self.projection.events
        out: list[Record] = []
        last: dict[tuple[str, int], datetime] = {}
        # The order keys of the batch's tokens, in one query rather than one per order.
        self.sealing.prefetch(r.value for r in raw if r.topic != self.dead_letter_topic)
        for r in raw:
            if r.topic == self.dead_letter_topic:
                at = datetime.fromtimestamp(r.timestamp / 1000, UTC)
                letter = deadletter.read(r.headers)
                record: Record = DeadLetterRecord(r.topic, r.partition, r.offset, at, r.key, letter)
            else:
                # The event header names the event: skip what this projection ignores
                # without paying for Avro decoding.
                name = eventlog.header(r.headers, "event")
                if name is not None and name not in wanted:
                    self.metrics.skipped += 1
                    continue
                try:
                    record = self.events.record(r)
                except DecodeError as exc:
                    self.metrics.decode_errors += 1
                    self._refuse(r, deadletter.technical("projection.decode", exc))
                    continue
                at = record.timestamp
                if record.name not in wanted:
                    self.metrics.skipped += 1
                    continue
            if self.as_of is not None and at > self.as_of:
                self.metrics.skipped += 1
                continue
            last[(r.topic, r.partition)] = at
            out.append(record)
        return out, last

    def step(self) -> int:
        """Poll one batch and apply it in one transaction; returns records consumed."""
        self._refused.clear()  # a failed step's refusals come back with its records
        raw = self._poll()
        moved = {tp: self.consumer.position(tp) for tp in self.partitions}
        moved = {tp: pos for tp, pos in moved.items() if pos != self.positions[tp]}
        if not moved:
            self._unstall()
            return 0
        self._quiet_since = time.monotonic()
        started = time.perf_counter()
        try:
            records, last = self._decode(raw)
        except CodecUnavailable:
            self._rewind()  # the key store is down: read the batch again once it is back
            raise
        moves = {
            (tp.topic, tp.partition): offsets.Advance(
                self.positions[tp], pos, last.get((tp.topic, tp.partition))
            )
            for tp, pos in moved.items()
        }
        try:
            # A rolled-back transaction also drops the rows its fold changed in the cache.
            with self.cache.batch(), self.conn.transaction():
                if records:
                    self._write(records, raw)
                # Before the offsets pass them: a crash now repeats them, never loses them.
                self._send_refused()
                offsets.advance(self.conn, self.projection.name, moves)
        except offsets.OffsetConflict as exc:
            self.metrics.conflicts += 1
            log.warning("offsets moved underneath; re-reading them", error=str(exc))
            self.reset()
            return 0
        except BaseException:
            # Nothing of the batch was committed: read it again rather than skip it.
            self._rewind()
            raise
        self.positions.update(moved)
        self.metrics.record_batch(len(records), 0, time.perf_counter() - started)
        return len(raw)

    def _write(self, records: list[Record], raw: list[port.Record]) -> None:
        try:
            # A savepoint: a failed batch leaves nothing, in the tables or the cache.
            with self.cache.batch(), self.conn.transaction():
                self.projection.write(self.conn, records, self.cache)
            return
        except NOT_THE_RECORD:
            raise
        except Exception:
            log.warning("batch failed; applying its records one by one", projection=self.name)
        # Some record spoils the batch: apply each alone, in order, refusing those that fail.
        by_offset = {(r.topic, r.partition, r.offset): r for r in raw}  # only needed here
        for record in records:
            try:
                with self.cache.batch(), self.conn.transaction():
                    self.projection.write(self.conn, [record], self.cache)
            except NOT_THE_RECORD:
                raise
            except Exception as exc:
                self.metrics.fold_errors += 1
                where = (record.topic, record.partition, record.offset)
                self._refuse(by_offset[where], deadletter.technical("projection.fold", exc))

    @property
    def name(self) -> str:
        """The projection's name."""
        return self.projection.name

    def _refuse(self, record: Any, reason: deadletter.Reason) -> None:
        log.warning(
            "record refused",
            projection=self.name,
            code=reason.code,
            error=reason.en,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        # A dead letter is never dead-lettered again (no loop): it is logged and skipped.
        if self.dead_letters and record.topic != self.dead_letter_topic:
            self._refused.append((record, reason))

    def _send_refused(self) -> None:
        if not self._refused:
            return
        if self._letters is None:
            self._letters = producer(self.settings, client_id=f"{self.projection.group}-dlq")
        for record, reason in self._refused:
            source = deadletter.Source(record.topic, record.partition, record.offset)
            letter = deadletter.DeadLetter(reason, source, self.processor)
            self._letters.send(
                self.dead_letter_topic,
                key=record.key,
                value=record.value if record.value is not None else b"",
                headers=letter.headers(record.headers or []),
            )
        self._letters.flush(30)
        self._refused.clear()

    def run(self, stop: Callable[[], bool]) -> None:
        """Apply batches until ``stop()`` is true."""
        while not stop():
            self.step()

    def catch_up(
        self, targets: dict[TopicPartition, int] | None = None, progress: Progress | None = None
    ) -> None:
        """Apply batches until every partition reaches ``targets`` (default: the end now)."""
        targets = targets or self.end_offsets()
        while any(self.positions[tp] < end for tp, end in targets.items()):
            n = self.step()
            if progress is not None:
                progress(self, n)

    def close(self) -> None:
        """Close the Kafka clients (the connection belongs to the caller)."""
        self.consumer.close()
        if self._letters is not None:
            self._letters.close()
