"""What one transaction will write: events, replies, follow-up commands, dead letters."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from oms_events import eventlog, topics
from oms_events.avro.codec import Codec
from oms_events.engine import bundles
from oms_events.engine.commands import Command, ReservationAnswer, ReservationsAnswered
from oms_events.engine.records import CommandWriter, Outgoing
from oms_events.engine.snapshots import Partition, Settlement, Wake, never, settle
from oms_events.settings import Settings


class Outbox:
    """Records gathered while a batch is handled; the processor sends them all inside
    the batch's transaction, after which they become visible together or not at all."""

    def __init__(self, settings: Settings, codec: Codec) -> None:
        self.settings = settings
        self.codec = codec
        self.log = eventlog.EventLog(codec, settings=settings)
        self.commands = CommandWriter(settings, codec)
        self.records: list[Outgoing] = []
        self.events_written = 0
        # Before anything is sent: a lower bound of every record timestamp it writes.
        self.started_ms = int(time.time() * 1000)
        # order id -> (index in records, the reply so far): one reply per order per
        # transaction, however many of its ReserveLines the transaction handled.
        self._replies: dict[UUID, tuple[int, ReservationsAnswered]] = {}
        # Indices of the follow-up commands among the records: what ``bundled`` packs.
        self._follow_ups: set[int] = set()
        # Each reply rewritten in place: (records queued then, order id, the reply
        # before), so a truncate can give an earlier command's reply back as it was.
        self._merges: list[tuple[int, UUID, ReservationsAnswered]] = []

    def add(self, record: Outgoing) -> None:
        """Queue any record."""
        self.records.append(record)

    def oversized(self, since: int, limit: int) -> int:
        """The size of the largest record queued or rewritten from index ``since`` on,
        if over ``limit`` (else 0): the broker would refuse it and with it the whole
        transaction."""
        largest = max((len(r.value or b"") for r in self.records[since:]), default=0)
        for at, order_id, _ in reversed(self._merges):  # newest first; ``at`` only grows
            if at < since:
                break
            largest = max(largest, len(self.records[self._replies[order_id][0]].value or b""))
        return largest if largest > limit else 0

    def truncate(self, since: int) -> None:
        """Drop what was queued from index ``since`` on (one command's output), and give
        back the replies it had joined as they were before."""
        while self._merges and self._merges[-1][0] >= since:
            _, order_id, before = self._merges.pop()
            index = self._replies[order_id][0]
            self.records[index] = self.commands.record(before)
            self._replies[order_id] = (index, before)
        del self.records[since:]
        self._replies = {k: v for k, v in self._replies.items() if v[0] < since}
        self._follow_ups = {i for i in self._follow_ups if i < since}

    def command(self, command: Command) -> None:
        """Queue a command for another (or this) processor, keyed by its aggregate."""
        self._follow_ups.add(len(self.records))
        self.records.append(self.commands.record(command))

    def answer(self, order_id: UUID, answers: Sequence[ReservationAnswer], cause_id: str) -> None:
        """Add a command's answers to this transaction's one reply to the order.

        The reply is one record, rewritten in place when another command's answers
        join it; its command id is that of the first command answered, unique since
        each command is handled in exactly one committed transaction.
        """
        if not answers:
            return
        index, reply = self._replies.get(order_id, (len(self.records), None))
        if reply is None:
            reply = ReservationsAnswered(
                command_id=f"{cause_id}/answer", order_id=order_id, answers=tuple(answers)
            )
            self._follow_ups.add(index)
            self.records.append(self.commands.record(reply))
        else:
            self._merges.append((len(self.records), order_id, reply))
            reply = ReservationsAnswered(
                command_id=reply.command_id,
                order_id=order_id,
                answers=(*reply.answers, *answers),
            )
            self.records[index] = self.commands.record(reply)
        self._replies[order_id] = (index, reply)

    def bundled(self) -> list[Outgoing]:
        """The records as they go out, once sealing has settled them: the commands to
        each partition in bundles (see bundles.py), everything else as queued."""
        limit = self.settings.kafka.max_record_bytes * 3 // 4
        return bundles.pack(self.records, self._follow_ups, self.codec, limit)

    def events(
        self, aggregate_type: str, partition: Partition, aggregate: Aggregate, command_id: str
    ) -> list[Any]:
        """Queue the aggregate's new events for its events partition; return them.

        The events go to the partition number of the command partition being handled
        (not wherever the key hashes): that is the one-writer rule made explicit.
        ``command_id`` rides along as a header so a replay knows what was applied.
        """
        new = list(aggregate.collect_events())
        if not new:
            return new
        topic = topics.name(self.settings, topics.events(aggregate_type))
        for event in new:
            key, value, headers = self.log.encode(event)
            headers.append(("command_id", command_id.encode()))
            self.records.append(Outgoing(topic, key, value, headers, partition.number))
        partition.record(aggregate, command_id, len(new), self.started_ms)
        self.events_written += len(new)
        return new

    def snapshots(
        self,
        aggregate_type: str,
        partition: Partition,
        every: int,
        window_ms: int,
        final: bool,
        keep: int = 0,
        wake: Wake = never,
    ) -> Settlement:
        """Queue the snapshots (and checkpoint) of ``partition`` this transaction writes
        (see snapshots.settle); hand the result to ``snapshots.committed`` after commit."""
        settlement = settle(
            partition,
            self.log,
            aggregate_type,
            self.started_ms,
            every,
            window_ms,
            final,
            keep,
            wake,
        )
        topic = topics.name(self.settings, topics.snapshots(aggregate_type))
        for key, value, headers in settlement.records:
            self.records.append(Outgoing(topic, key, value, headers, partition.number))
        return settlement
