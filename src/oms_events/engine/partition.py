"""The Kafka reads behind a processor's partition state: the rebuild on assignment and
the reload of an aggregate that left memory. What is decided about those records is
in ``snapshots.py`` (pure); this module only seeks and polls.

Commands and events of a type are keyed alike on topics of one partition count, so
command partition *p* owns exactly the aggregates whose events are on events partition
*p* and whose snapshots are on snapshots partition *p*. On assignment the processor
rebuilds that state (read committed, up to the last stable offsets); afterwards it is
the only writer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.domain import Aggregate

from oms_events import topics
from oms_events.avro.codec import Codec
from oms_events.engine import snapshots
from oms_events.engine.snapshots import CLOCK_STEP_MS, Partition, Stub
from oms_events.eventlog import EventLog
from oms_events.kafka.errors import KafkaTimeout
from oms_events.kafka.port import Consumer, TopicPartition
from oms_events.settings import Settings

log = structlog.get_logger(__name__)

__all__ = ["Partition", "SnapshotLoader", "rebuild", "records_since"]

# How long a read of committed records may get nothing while behind (see records_since).
READ_STALL_S = 30.0
_END_POLL_MS = 20  # the wait of each poll of a read to the end (see records_since)


def rebuild(
    replay: Consumer, settings: Settings, aggregate_type: str, number: int, codec: Codec
) -> Partition:
    """The state of partition ``number`` of ``aggregate_type``: its newest snapshots and
    the events after them (see snapshots.rebuild), read to the last stable offsets.

    ``replay`` is a group-less read_committed consumer: the end it reads to is the
    last stable offset, so an open (possibly zombie) transaction is never folded in.
    """
    events = TopicPartition(topics.name(settings, topics.events(aggregate_type)), number)
    stored = TopicPartition(topics.name(settings, topics.snapshots(aggregate_type)), number)
    event_log = EventLog(codec)
    started = time.monotonic()
    progress = _Progress(events, settings.engine.progress_every_s)

    def events_from(since_ms: int | None) -> Iterator[Any]:
        return progress.count(records_since(replay, events, since_ms))

    result = snapshots.rebuild(
        number,
        records_since(replay, stored, None),
        events_from,
        event_log,
        now_ms=int(time.time() * 1000),
        window_ms=int(settings.engine.redelivery_window_s * 1000),
        load=SnapshotLoader(replay, stored, events, event_log),
    )
    replay.assign([])
    state = result.partition
    elapsed = time.monotonic() - started
    log.info(
        "rebuilt",
        topic=events.topic,
        partition=number,
        snapshots=result.snapshots,
        events=result.events,
        applied=result.applied,
        from_snapshot=result.since_ms is not None,
        in_memory=len(state.aggregates),
        out_of_memory=len(state.snapshots) - len(state.snapshots.keys() & state.aggregates.keys()),
        seconds=round(elapsed, 3),
        events_per_s=round(result.events / elapsed) if elapsed > 0 else result.events,
    )
    return state


class SnapshotLoader:
    """Reloads an aggregate that left memory from its newest snapshot (Partition.get)."""

    def __init__(
        self,
        replay: Consumer,
        stored: TopicPartition,
        events: TopicPartition,
        event_log: EventLog,
    ) -> None:
        self.replay = replay
        self.stored = stored
        self.events = events
        self.log = event_log

    def __call__(self, aggregate_id: UUID, stub: Stub) -> tuple[Aggregate, list[str]]:
        """The aggregate and its command ids (LookupError if it has no events at all)."""
        try:
            # From when it was written on; from the beginning if a clock stepped back further.
            for since in (stub.since_ms - CLOCK_STEP_MS, None):
                records = records_since(self.replay, self.stored, since)
                found = snapshots.find(records, aggregate_id, stub.version, stub.closed)
                if found is not None:
                    return snapshots.restore(self.log, found.value)
            # The snapshot is gone (a topic recreated?): the events are the truth.
            log.warning("snapshot missing, replaying", aggregate_id=str(aggregate_id))
            events = records_since(self.replay, self.events, None)
            return snapshots.replay_one(events, aggregate_id, self.log)
        finally:
            self.replay.assign([])


def records_since(consumer: Consumer, tp: TopicPartition, since_ms: int | None) -> Iterator[Any]:
    """Records of one partition with timestamp >= ``since_ms`` (all when None), in
    offset order, up to the last stable offset as it is now."""
    consumer.assign([tp])
    end = consumer.end_offsets([tp])[tp]
    if since_ms is None:
        consumer.seek_to_beginning(tp)
    else:
        found = consumer.offsets_for_times({tp: max(0, since_ms)})[tp]
        consumer.seek(tp, found if found is not None else end)
    at, moved = consumer.position(tp), time.monotonic()
    while at < end:
        # A short wait: the last records are followed by a transaction marker, which no
        # poll returns, so the read learns it is done from its position, at the next
        # poll's end (500 ms made every rebuild wait 0.5 s per partition read).
        for records in consumer.poll(timeout_ms=_END_POLL_MS, max_records=5000).values():
            for r in records:
                if r.offset < end:
                    yield r
        if consumer.position(tp) > at:
            at, moved = consumer.position(tp), time.monotonic()
        elif time.monotonic() - moved > READ_STALL_S:
            # Nothing can hold a read of committed records this long but a fetch that
            # never happens (a leader gone, librdkafka #5153): the caller starts over
            # with new clients rather than wait here for ever.
            raise KafkaTimeout(
                f"{tp.topic}[{tp.partition}] read nothing for {READ_STALL_S:.0f} s at "
                f"offset {at} of {end}: reading again with new clients"
            )


class _Progress:
    """Counts records as they pass and logs a progress line every few seconds."""

    def __init__(self, tp: TopicPartition, every_s: float) -> None:
        self.tp = tp
        self.every_s = every_s

    def count(self, records: Iterator[Any]) -> Iterator[Any]:
        started = last = time.monotonic()
        for n, r in enumerate(records, 1):
            yield r
            if n % 1000 == 0 and time.monotonic() - last >= self.every_s:
                last = time.monotonic()
                log.info(
                    "rebuilding",
                    topic=self.tp.topic,
                    partition=self.tp.partition,
                    events=n,
                    events_per_s=round(n / (last - started)),
                )
