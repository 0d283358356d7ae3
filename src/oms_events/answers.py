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


class AnswerWatch:
    """Watches for one command's answer: made before the command is sent (it notes
    where the events and replies topics end), then :meth:`send`, then :meth:`read`.

    The CLI sends and reads at once (:func:`send_and_wait`); the operator API answers
    202 once :meth:`send` returns and reads the answer in the background.
    """

    def __init__(self, settings: Settings, codec: Codec, command: Command) -> None:
        self.settings = settings
        self.codec = codec
        self.command = command
        self.events_topic = topics.name(settings, topics.events(command.aggregate_type))
        replies_topic = topics.name(settings, topics.NOTIFICATIONS)
        self.consumer = consumer(
            settings, group_id=None, client_id="oms-answer", fetch_max_wait_ms=100
        )
        try:
            parts = [
                TopicPartition(topic, n)
                for topic in (self.events_topic, replies_topic)
                for n in sorted(self.consumer.partitions_for_topic(topic))
            ]
            self.consumer.assign(parts)
            for tp, offset in self.consumer.end_offsets(parts).items():
                self.consumer.seek(tp, offset)
        except BaseException:
            self.consumer.close()
            raise

    def send(self, via: Any | None = None, actor: str | None = None) -> None:
        """Send the command and wait for Kafka to take it (``via``: a producer to
        reuse; else one is made and closed). ``actor``: who sent it, kept in the
        record's ``actor`` header (commands without an actor field have it there)."""
        record = CommandWriter(self.settings, self.codec).record(self.command)
        headers = list(record.headers)
        if actor:
            headers.append(("actor", actor.encode()))
        p = via or producer(self.settings)
        try:
            p.send(record.topic, record.value, key=record.key, headers=headers).get(30)
        finally:
            if via is None:
                p.close()

    def read(self, wait_s: float) -> Answer | None:
        """The engine's answer, or None after ``wait_s`` (not running, or behind)."""
        return _read_answer(
            self.consumer, self.codec, self.command.command_id, self.events_topic, wait_s
        )

    def close(self) -> None:
        """Stop watching."""
        self.consumer.close()


def send_and_wait(
    settings: Settings, codec: Codec, command: Command, wait_s: float
) -> Answer | None:
    """Send ``command`` and return the engine's answer, or None after ``wait_s``
    (the engine is not running, or is behind)."""
    watch = AnswerWatch(settings, codec, command)
    try:
        watch.send()
        return watch.read(wait_s)
    finally:
        watch.close()


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
