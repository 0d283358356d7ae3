"""One command record through a service, without Kafka: the pure step of the processor.

The processor polls, opens the transaction and commits; everything it decides about a
single record happens here, so unit tests drive it with plain records and an
in-memory :class:`Outbox`:

* undecodable, no command of this service, or invalid -> dead letter
  (``decode.error`` / ``command.unknown`` / ``command.invalid``)
* keyed to another partition -> forwarded there, in this transaction
* a command id the aggregate already applied -> nothing (a redelivery)
* refused by a domain rule -> a :data:`COMMAND_REJECTED` reply to the sender on
  ``oms.notifications`` with the error code, and a dead letter unless the service
  says the refusal is an ordinary outcome (a change to an order already allocated)
* anything else the service raises -> dead letter, and the partition is rebuilt
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import structlog

from oms_events import topics
from oms_events.avro.codec import Codec, CodecUnavailable, DecodeError
from oms_events.deadletter import WHOLE, DeadLetter, Reason, Source, technical
from oms_events.domain.errors import DomainError
from oms_events.engine.commands import Command, UnknownCommand
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.records import Outgoing, partition_for
from oms_events.engine.service import Service
from oms_events.kafka.errors import KafkaError
from oms_events.settings import Settings

log = structlog.get_logger(__name__)

# The reply to a command a domain rule refused (schemas/order/commands/CommandRejected.avsc).
COMMAND_REJECTED = "oms.replies.CommandRejected"


class Outcome(StrEnum):
    """What became of one record."""

    APPLIED = "applied"  # the service handled it (it may have written nothing)
    DUPLICATE = "duplicate"  # its command id was applied before
    FORWARDED = "forwarded"  # sent on to the partition that owns its aggregate
    REJECTED = "rejected"  # a domain rule refused it; the sender got a reply
    DEAD = "dead"  # dead-lettered (with or without a reply)


class Step:
    """Decode, route, deduplicate and apply one command record of a service."""

    def __init__(self, service: Service, settings: Settings, codec: Codec) -> None:
        self.service = service
        self.settings = settings
        self.codec = codec
        self.log = log.bind(processor=service.name)
        self.processor = f"engine.{service.name}"  # who refused it, in dead letters

    def __call__(self, record: Any, partition: Partition, out: Outbox) -> Outcome:
        """Handle ``record`` against ``partition``, writing to ``out``; never raises for
        bad input (only KafkaError, which aborts the transaction)."""
        try:
            command: Command = self.service.decode(self.codec, record)
        except DecodeError as exc:
            return self._dead(out, record, technical("decode.error", exc))
        except UnknownCommand as exc:
            return self._dead(out, record, technical(exc.code, exc))
        except (KeyError, ValueError, TypeError) as exc:
            return self._dead(out, record, technical("command.invalid", exc))
        key = command.key.encode()
        owner = partition_for(key, self.settings.kafka.partitions)
        if owner != record.partition:
            # Keyed by something else (an order number, say): send it to the partition
            # that owns its aggregate, in this transaction, so it is handled exactly once.
            out.add(Outgoing(record.topic, key, record.value, list(record.headers or []), owner))
            return Outcome.FORWARDED
        target = self.service.target(command)
        if partition.seen(target, command.command_id):
            return Outcome.DUPLICATE
        mark = len(out.records)
        try:
            self.service.handle(command, partition, out)
        except UnknownCommand as exc:
            return self._dead(out, record, technical(exc.code, exc))
        except DomainError as exc:
            _taint(partition, target)
            out.add(rejection(self.settings, self.codec, record, command, exc))
            if self.service.refusal(command, exc):
                self.log.info("command refused", command=command.name, code=exc.code)
                return Outcome.REJECTED
            reason = Reason(
                exc.code, WHOLE, exc.message("en"), exc.message("zh"), type(exc).__name__
            )
            return self._dead(out, record, reason)
        except (KeyError, ValueError, TypeError) as exc:
            _taint(partition, target)
            return self._dead(out, record, technical("command.invalid", exc))
        except (KafkaError, CodecUnavailable):
            # Not the command's fault: abort the transaction; the processor stops (the
            # registry) or waits for the key store and reads the batch again.
            raise
        except Exception as exc:
            # A bug must not block the partition; it is logged and dead-lettered.
            self.log.exception("command failed", command=command.name)
            _taint(partition, target)
            return self._dead(out, record, technical("engine.error", exc))
        return self._fits(record, partition, out, mark)

    def _fits(self, record: Any, partition: Partition, out: Outbox, mark: int) -> Outcome:
        # A record over the broker's limit would fail the whole transaction, again on
        # every restart (a poison command): drop this command's output, rebuild the
        # partition from the log (its aggregate applied events that are not kept), and
        # dead-letter the command instead.
        limit = self.settings.kafka.max_record_bytes
        size = out.oversized(mark, limit)
        if not size:
            return Outcome.APPLIED
        out.truncate(mark)
        partition.dirty = True
        en = f"it makes a record of {size} bytes, over kafka.max_record_bytes ({limit})"
        zh = f"其产生的记录为 {size} 字节，超过 kafka.max_record_bytes（{limit}）"
        return self._dead(out, record, Reason("record.too_large", WHOLE, en, zh, "RecordTooLarge"))

    def _dead(self, out: Outbox, record: Any, reason: Reason) -> Outcome:
        dead_letter(self.settings, self.processor, out, record, reason)
        return Outcome.DEAD


def dead_letter(
    settings: Settings, processor: str, out: Outbox, record: Any, reason: Reason
) -> None:
    """Queue ``record``'s dead letter, refused by ``processor`` for ``reason``."""
    log.warning(
        "dead letter",
        processor=processor,
        code=reason.code,
        message=reason.en,
        offset=record.offset,
        partition=record.partition,
    )
    letter = DeadLetter(reason, Source(record.topic, record.partition, record.offset), processor)
    # Key and value byte for byte, so an operator can fix the input and replay it;
    # except a value too large to go out again with the headers added (it would fail
    # the transaction on every retry): the source offset then names where it is.
    value = record.value if record.value is not None else b""
    if len(value) > settings.kafka.max_record_bytes:
        value = b""
    out.add(
        Outgoing(
            topics.name(settings, topics.DEADLETTER),
            record.key,
            value,
            letter.headers(record.headers or []),
        )
    )


def rejection(
    settings: Settings, codec: Codec, record: Any, command: Command, error: DomainError
) -> Outgoing:
    """The reply telling a command's sender which rule refused it, keyed like the command.

    Sent at least once (a redelivered refused command is refused again): readers
    deduplicate on ``command_id``, which is also a header.
    """
    topic = topics.name(settings, topics.NOTIFICATIONS)
    value = codec.encode(
        COMMAND_REJECTED,
        {
            "command_id": command.command_id,
            "command": f"{command.aggregate_type}.{command.name}",
            "aggregate_id": command.key,
            "code": error.code,
            "message_en": error.message("en"),
            "message_zh": error.message("zh"),
            "rejected_at": datetime.now(UTC),
        },
        topic=topic,
    )
    return Outgoing(
        topic,
        command.key.encode(),
        value,
        [("reply", b"CommandRejected"), ("command_id", command.command_id.encode())],
    )


def _taint(partition: Partition, target: Any) -> None:
    # A command that raised half-way may have left events pending on its aggregate:
    # drop them and have the processor rebuild the partition from the log.
    aggregate = partition.get(target) if target is not None else None
    if aggregate is not None and aggregate.pending_events:
        aggregate.collect_events()
        partition.dirty = True
