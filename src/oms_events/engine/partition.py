"""The state a processor holds for one input partition: its aggregates, rebuilt by replay.

Commands and events of a type are keyed alike on topics of one partition count, so
command partition *p* owns exactly the aggregates whose events are on events
partition *p*. On assignment the processor replays that events partition (read
committed) into a :class:`Partition`; afterwards it is the only writer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.domain import Aggregate

from oms_events import eventlog
from oms_events.avro.codec import Codec
from oms_events.kafka.port import Consumer, TopicPartition

log = structlog.get_logger(__name__)


@dataclass
class Partition:
    """Aggregates of one partition, and the command ids each has already applied.

    ``commands_seen`` is rebuilt from the ``command`` header every engine-written event
    carries: a command published twice upstream (two offsets, one id) is recognised
    by its id and has no second effect, even for commands with no natural key
    (ReceiveStock). Kafka transactions already stop the engine's own redeliveries.
    """

    number: int
    aggregates: dict[UUID, Aggregate] = field(default_factory=dict)
    commands_seen: dict[UUID, set[str]] = field(default_factory=dict)
    dirty: bool = False  # an aggregate may hold half a command: rebuild after commit

    def get(self, aggregate_id: UUID) -> Any:
        """The aggregate, or None if it has no events yet."""
        return self.aggregates.get(aggregate_id)

    def seen(self, aggregate_id: UUID | None, command_id: str) -> bool:
        """True when the aggregate already applied the command with this id."""
        return aggregate_id is not None and command_id in self.commands_seen.get(aggregate_id, ())

    def apply(self, event: Any, command_id: str | None) -> None:
        """Fold one stored domain event into the aggregate it belongs to."""
        aggregate_id = event.originator_id
        self.aggregates[aggregate_id] = event.mutate(self.aggregates.get(aggregate_id))
        if command_id:
            self.commands_seen.setdefault(aggregate_id, set()).add(command_id)


def rebuild(
    replay: Consumer,
    topic: str,
    number: int,
    codec: Codec,
    progress_every_s: float = 2.0,
) -> Partition:
    """Replay events partition ``number`` of ``topic`` from the start to its last
    stable offset and return the state it describes.

    ``replay`` is a group-less read_committed consumer: the end it reads to is the
    last stable offset, so an open (possibly zombie) transaction is never folded in.
    """
    tp = TopicPartition(topic, number)
    replay.assign([tp])
    replay.seek_to_beginning(tp)
    end = replay.end_offsets([tp])[tp]
    state = Partition(number)
    started = last_line = time.monotonic()
    count = 0
    while replay.position(tp) < end:
        for records in replay.poll(timeout_ms=500, max_records=5000).values():
            for r in records:
                state.apply(
                    eventlog.decode_event(r.value or b"", codec),
                    eventlog.header(r.headers, "command_id"),
                )
                count += 1
        now = time.monotonic()
        if now - last_line >= progress_every_s:
            last_line = now
            log.info(
                "rebuilding",
                topic=topic,
                partition=number,
                events=count,
                events_per_s=round(count / (now - started)),
                end=end,
            )
    elapsed = time.monotonic() - started
    log.info(
        "rebuilt",
        topic=topic,
        partition=number,
        events=count,
        aggregates=len(state.aggregates),
        seconds=round(elapsed, 3),
        events_per_s=round(count / elapsed) if elapsed > 0 else count,
    )
    replay.assign([])
    return state
