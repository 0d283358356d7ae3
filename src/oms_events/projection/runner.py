"""The batching consumer behind ``oms project``: Kafka records in, PostgreSQL rows out.

Each batch — up to ``batch_size`` records or ``max_wait`` seconds — is written in
one PostgreSQL transaction together with the offsets it reaches. The consumer is
assigned its partitions directly and seeks to the offsets stored in the database:
Kafka's group offsets play no part in correctness, so a SIGKILL at any moment
loses nothing and repeats nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog
from kafka import KafkaConsumer, TopicPartition
from psycopg import sql

from oms_events import eventlog, topics
from oms_events.avro.codec import Codec, DecodeError
from oms_events.avro.registry import codec_from_settings
from oms_events.kafka.connection import consumer
from oms_events.projection import offsets
from oms_events.projection.metrics import Metrics
from oms_events.projection.migrate import use_schema
from oms_events.projection.spec import DeadLetter, Projection, Record
from oms_events.settings import Settings

log = structlog.get_logger(__name__)

Progress = Callable[["Runner", int], None]


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
    ) -> None:
        self.projection = projection
        self.conn = conn
        self.batch_size = batch_size
        self.max_wait = max_wait
        self.as_of = as_of
        self.codec: Codec = codec or codec_from_settings(settings.registry.url)
        self.events = eventlog.EventLog(self.codec)
        self.metrics = Metrics()
        self.dead_letter_topic = topics.name(settings, topics.DEADLETTER)
        self.topics = [topics.name(settings, t) for t in projection.topics]
        self.consumer: KafkaConsumer = consumer(
            settings,
            group_id=None,
            client_id=projection.group,
            max_poll_records=batch_size,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        self.partitions: list[TopicPartition] = []
        for topic in self.topics:
            found = self.consumer.partitions_for_topic(topic)
            if not found:
                self.consumer.close()
                raise MissingTopic(f"topic {topic} does not exist: run `oms topics apply`")
            self.partitions += [TopicPartition(topic, p) for p in sorted(found)]
        self.consumer.assign(self.partitions)
        self.positions: dict[TopicPartition, int] = {}
        self.reset()

    def reset(self) -> None:
        """Seek every partition to the offset the database holds (creating rows at 0)."""
        with self.conn.transaction():
            offsets.ensure(
                self.conn,
                self.projection.name,
                [(tp.topic, tp.partition) for tp in self.partitions],
            )
            stored = offsets.load(self.conn, self.projection.name)
        for tp in self.partitions:
            self.positions[tp] = stored[(tp.topic, tp.partition)]
            self.consumer.seek(tp, self.positions[tp])

    def end_offsets(self) -> dict[TopicPartition, int]:
        """The last stable offset of every partition (read_committed end)."""
        ends: dict[TopicPartition, int] = self.consumer.end_offsets(self.partitions)
        return ends

    def lag(self, ends: dict[TopicPartition, int] | None = None) -> int:
        """Records between the stored positions and ``ends`` (default: now)."""
        ends = ends or self.end_offsets()
        return sum(max(0, ends[tp] - self.positions[tp]) for tp in self.partitions)

    def _poll(self) -> list[Any]:
        records: list[Any] = []
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

    def _decode(self, raw: list[Any]) -> tuple[list[Record], dict[tuple[str, int], datetime]]:
        wanted = self.projection.events
        out: list[Record] = []
        last: dict[tuple[str, int], datetime] = {}
        for r in raw:
            if r.topic == self.dead_letter_topic:
                at = datetime.fromtimestamp(r.timestamp / 1000, UTC)
                headers = {k: v.decode(errors="replace") for k, v in r.headers or ()}
                record: Record = DeadLetter(r.topic, r.partition, r.offset, at, r.key, headers)
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
                    log.warning(
                        "undecodable event skipped",
                        projection=self.projection.name,
                        topic=r.topic,
                        partition=r.partition,
                        offset=r.offset,
                        error=str(exc),
                    )
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
        raw = self._poll()
        moved = {tp: self.consumer.position(tp) for tp in self.partitions}
        moved = {tp: pos for tp, pos in moved.items() if pos != self.positions[tp]}
        if not moved:
            return 0
        started = time.perf_counter()
        records, last = self._decode(raw)
        moves = {
            (tp.topic, tp.partition): offsets.Advance(
                self.positions[tp], pos, last.get((tp.topic, tp.partition))
            )
            for tp, pos in moved.items()
        }
        try:
            with self.conn.transaction():
                if records:
                    self.projection.write(self.conn, records)
                offsets.advance(self.conn, self.projection.name, moves)
        except offsets.OffsetConflict as exc:
            self.metrics.conflicts += 1
            log.warning("offsets moved underneath; re-reading them", error=str(exc))
            self.reset()
            return 0
        self.positions.update(moved)
        self.metrics.record_batch(len(records), 0, time.perf_counter() - started)
        return len(raw)

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
        """Close the Kafka consumer (the connection belongs to the caller)."""
        self.consumer.close()
