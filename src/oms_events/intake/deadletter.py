"""Dead letters of the intake: the original bytes, the reason in headers.

Headers (all UTF-8): ``dlq.code``, ``dlq.field``, ``dlq.message.en``,
``dlq.message.zh``, ``dlq.channel``, ``dlq.external_id`` and ``dlq.position`` (when
known), ``dlq.source.topic``, ``dlq.source.partition``, ``dlq.source.offset``,
``dlq.consumer``. The key is the delivery's key as received.
"""

from __future__ import annotations

from dataclasses import dataclass

from oms_events.intake.errors import Code, Rejection

CONSUMER = "oms-intake"


@dataclass(frozen=True)
class Source:
    """Where a delivery came from: a Kafka record, or an HTTP request (partition -1)."""

    topic: str
    partition: int = -1
    offset: int = -1
    key: bytes | None = None


@dataclass(frozen=True)
class DeadLetter:
    """One refused order (or whole delivery) and why."""

    channel: str
    rejection: Rejection
    raw: bytes
    source: Source
    position: str = ""

    @property
    def code(self) -> Code:
        """The dead-letter code."""
        return self.rejection.code

    def headers(self) -> list[tuple[str, bytes]]:
        """Kafka headers naming the code, field, messages and source."""
        r = self.rejection
        pairs = [
            ("dlq.code", r.code.value),
            ("dlq.field", r.field),
            ("dlq.message.en", r.en),
            ("dlq.message.zh", r.zh),
            ("dlq.channel", self.channel),
            ("dlq.source.topic", self.source.topic),
            ("dlq.source.partition", str(self.source.partition)),
            ("dlq.source.offset", str(self.source.offset)),
            ("dlq.consumer", CONSUMER),
        ]
        if r.external_id:
            pairs.append(("dlq.external_id", r.external_id))
        if self.position:
            pairs.append(("dlq.position", self.position))
        return [(k, v.encode()) for k, v in pairs]
