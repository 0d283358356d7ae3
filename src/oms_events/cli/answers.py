"""A command sent, and the engine's answer read back: its events, or its refusal.

The engine writes a command's events with a ``command_id`` header, and a refused
command's ``CommandRejected`` reply (with the same header) on ``oms.notifications``,
both in the transaction that consumed the command. So the sender notes where both
topics end, sends, and reads on from there (read_committed) until either names its
command: no polling of projections, and no answer is missed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from oms_events import eventlog, topics
from oms_events.avro.codec import Codec
from oms_events.engine.commands import Command
from oms_events.engine.records import CommandWriter
from oms_events.kafka.connection import consumer, producer
from oms_events.kafka.port import TopicPartition
from oms_events.settings import Settings


@dataclass(frozen=True)
class Answer:
    """What the engine did with one command."""

    events: list[eventlog.EventRecord] = field(default_factory=list)
    refusal: dict[str, Any] | None = None  # the CommandRejected record

    @property
    def refused(self) -> bool:
        """True when a domain rule refused the command."""
        return self.refusal is not None


def send_and_wait(
    settings: Settings, codec: Codec, command: Command, wait_s: float
) -> Answer | None:
    """Send ``command`` and return the engine's answer, or None after ``wait_s``
    (the engine is not running, or is behind)."""
    events_topic = topics.name(settings, topics.events(command.aggregate_type))
    replies_topic = topics.name(settings, topics.NOTIFICATIONS)
    c = consumer(settings, group_id=None, client_id="oms-cli-answer", fetch_max_wait_ms=100)
    try:
        parts = [
            TopicPartition(topic, n)
            for topic in (events_topic, replies_topic)
            for n in sorted(c.partitions_for_topic(topic))
        ]
        c.assign(parts)
        for tp, offset in c.end_offsets(parts).items():
            c.seek(tp, offset)
        record = CommandWriter(settings, codec).record(command)
        p = producer(settings)
        try:
            p.send(record.topic, record.value, key=record.key, headers=record.headers).get(30)
        finally:
            p.close()
        return _read_answer(c, codec, command.command_id, events_topic, wait_s)
    finally:
        c.close()


def _read_answer(
    c: Any, codec: Codec, command_id: str, events_topic: str, wait_s: float
) -> Answer | None:
    # A command's events are written in one transaction, so once one is seen the rest
    # of that poll (and the next, briefly) completes the answer.
    log = eventlog.EventLog(codec)
    found: list[eventlog.EventRecord] = []
    deadline = time.monotonic() + wait_s
    settle_until: float | None = None
    while time.monotonic() < (settle_until or deadline):
        for records in c.poll(timeout_ms=100, max_records=500).values():
            for r in records:
                if eventlog.header(r.headers, "command_id") != command_id:
                    continue
                if r.topic == events_topic:
                    found.append(log.record(r))
                    settle_until = settle_until or time.monotonic() + 0.3
                elif eventlog.header(r.headers, "reply") == "CommandRejected":
                    return Answer(refusal=codec.decode(r.value)[1])
    return Answer(events=found) if found else None
