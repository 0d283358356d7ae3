"""The pure heart of the intake: one delivery in, commands and dead letters out.

No Kafka here. The Kafka adapter, the HTTP app, the property tests and the benchmark
all drive this same step, so what they prove holds for all of them::

    bytes --channel.parse--> IntakeOrder | IntakeCancel | IntakeReturn | Rejection
          --dedup index-->   PlaceOrder | ChangeOrder | CancelOrder | duplicate |
                             change rejected (a return: RequestReturn | duplicate)
          --codec-->         Avro bytes keyed by order id (+ a changelog entry)

``handle`` never raises for anything a channel sends: every failure becomes a
:class:`Refused` (bytes kept, the reason in :mod:`oms_events.deadletter`'s headers).
Index changes are staged; the caller commits or rolls them back
with its transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import structlog

from oms_events import topics
from oms_events.avro.codec import Codec, CodecUnavailable
from oms_events.deadletter import DeadLetter, Reason, Source
from oms_events.engine import commands
from oms_events.intake import acceptance
from oms_events.intake.channel import Delivery
from oms_events.intake.channels import channel as channel_format
from oms_events.intake.dedup import DedupIndex, IsChangeable, Verdict, always_changeable
from oms_events.intake.errors import Code, Rejection
from oms_events.intake.model import (
    IntakeCancel,
    IntakeOrder,
    cancel_order,
    change_order,
    place_order,
)
from oms_events.intake.returns import IntakeReturn, request_return
from oms_events.intake.tables import Tables

log = structlog.get_logger("oms.intake")


@dataclass(frozen=True)
class Command:
    """An encoded order command for ``oms.order.commands``, keyed by order id."""

    kind: str  # "place" | "change" | "cancel" | "return"
    channel: str
    external_id: str
    order_no: str
    order_id: UUID
    value: bytes


@dataclass(frozen=True)
class Seen:
    """A changelog entry: this version of the order is now accepted."""

    channel: str
    external_id: str
    order_no: str
    history: tuple[str, ...]  # every accepted hash, this version last


@dataclass(frozen=True)
class Duplicate:
    """A redelivery of a version already accepted: acknowledged and ignored."""

    channel: str
    external_id: str
    order_no: str


PROCESSOR = "intake"


@dataclass(frozen=True)
class Refused:
    """A delivery (or one order of a batch) the intake refuses: its bytes, kept as
    received, and the dead letter that says why."""

    rejection: Rejection
    raw: bytes
    letter: DeadLetter

    @property
    def code(self) -> Code:
        """The intake's code for the refusal."""
        return self.rejection.code


def dead_letter(
    channel: str, rejection: Rejection, source: Source, position: str = ""
) -> DeadLetter:
    """The dead letter of a refused delivery (the contract of :mod:`oms_events.deadletter`)."""
    return DeadLetter(
        Reason(
            rejection.code.value,
            rejection.field,
            rejection.en,
            rejection.zh,
            type(rejection.__cause__ or rejection).__name__,
        ),
        source,
        PROCESSOR,
        {"channel": channel, "external_id": rejection.external_id or "", "position": position},
    )


Output = Command | Seen | Duplicate | Refused


def _now() -> datetime:
    return datetime.now(UTC)


class IntakeProcessor:
    """Turns deliveries into outputs; keeps the dedup index and a counter per outcome.

    ``counts`` has ``placed``, ``changed``, ``cancelled``, ``returned``, ``duplicate``
    and one entry per dead-letter code: the adapter exposes it and logs it.
    """

    def __init__(
        self,
        codec: Codec,
        tables: Tables | None = None,
        index: DedupIndex | None = None,
        is_changeable: IsChangeable = always_changeable,
        clock: Callable[[], datetime] = _now,
        commands_topic: str = topics.commands("order"),
        max_record_bytes: int = 900_000,
    ) -> None:
        self.tables = tables or Tables.load()
        # The process's codec (avro.registry.codec_from_settings): commands it encodes
        # carry the customer's personal data sealed (oms_events.privacy).
        self.codec = codec
        self.commands_topic = commands_topic  # where the encoded commands go (registry subject)
        self.index = index if index is not None else DedupIndex()
        self.is_changeable = is_changeable
        self.clock = clock
        self.counts: Counter[str] = Counter()
        # kafka.max_record_bytes: a larger command would fail the producer's transaction.
        self.max_record_bytes = max_record_bytes
        # The PlaceOrder bytes the size check encoded, reused by _decide (same object).
        self._placed: dict[int, tuple[IntakeOrder, bytes]] = {}

    def parse(self, channel: str, raw: bytes) -> Delivery:
        """Parse, and refuse each order the order aggregate would refuse (the HTTP app
        answers 400 from this); raises :class:`Rejection` when nothing can be read."""
        self._placed.clear()  # bounded to one delivery (the HTTP app only parses)
        try:
            delivery = channel_format(channel).parse(raw, self.tables)
        except Rejection:
            raise
        except Exception as exc:  # a parser bug: still a refusal, never a crash
            log.exception("intake.parser_bug", channel=channel)
            raise Rejection(
                Code.INTERNAL, "$", f"parser failed: {type(exc).__name__}", "解析程序出错"
            ) from exc
        return Delivery(delivery.key, [self._admit(item) for item in delivery.items])

    def _admit(
        self, item: IntakeOrder | IntakeCancel | IntakeReturn | Rejection
    ) -> IntakeOrder | IntakeCancel | IntakeReturn | Rejection:
        if not isinstance(item, IntakeOrder):
            return item  # a rejection already, a cancellation or a return (judged later)
        refused = acceptance.refusal(item)
        if refused is not None:
            return refused
        # The largest record this order makes is its command (its OrderPlaced is about
        # as large and is checked again by the engine's step).
        value = self._encode(place_order(item))
        if len(value) > self.max_record_bytes:
            return acceptance.too_large(item, len(value), self.max_record_bytes)
        self._placed[id(item)] = (item, value)
        return item

    def handle(self, channel: str, raw: bytes, source: Source) -> list[Output]:
        """Everything one delivery produces; staged index changes await the caller."""
        try:
            delivery = self.parse(channel, raw)
        except Rejection as unreadable:
            return [self._dead(channel, unreadable, raw, source)]
        outputs: list[Output] = []
        try:
            self._handle_items(channel, delivery, raw, source, outputs)
        finally:
            self._placed.clear()  # only this delivery's orders: never a stale id
        return outputs

    def _handle_items(
        self, channel: str, delivery: Delivery, raw: bytes, source: Source, outputs: list[Output]
    ) -> None:
        for item in delivery.items:
            if isinstance(item, Rejection):
                outputs.append(self._dead(channel, item, raw, source))
                continue
            try:
                if isinstance(item, IntakeReturn):
                    outputs.extend(self._decide_return(item))
                else:
                    outputs.extend(self._decide(item, raw, source))
            except CodecUnavailable:
                raise  # the registry's or key store's problem, not the order's: no dead letter
            except Exception as exc:  # an encoding bug: dead-letter the order, go on
                log.exception("intake.encode_bug", channel=channel, external_id=item.external_id)
                bug = Rejection(
                    Code.INTERNAL, "$", f"cannot encode: {type(exc).__name__}", "无法编码命令"
                ).for_order(item.external_id)
                outputs.append(self._dead(channel, bug, raw, source, item.position))

    def _decide(
        self, order: IntakeOrder | IntakeCancel, raw: bytes, source: Source
    ) -> list[Output]:
        digest = order.content_hash()
        decision = self.index.decide(order.channel, order.external_id, digest)
        if decision.verdict is Verdict.DUPLICATE:
            self.counts["duplicate"] += 1
            log.info("intake.duplicate", channel=order.channel, external_id=order.external_id)
            return [Duplicate(order.channel, order.external_id, order.order_no)]
        if isinstance(order, IntakeCancel):
            # Sent even for an order this index never saw (placed elsewhere, or never
            # placed): the Order is the authority, and refuses an unknown order with a
            # CommandRejected reply (order.unknown) and a dead letter an operator sees.
            kind, value = "cancel", self._encode(cancel_order(order))
        elif decision.verdict is Verdict.NEW:
            kind, value = "place", self._place_value(order)
        elif self.is_changeable(order.order_id):
            assert decision.previous is not None
            change = change_order(order, decision.previous, self.clock())
            kind, value = "change", self._encode(change)
        else:
            refused = Rejection(
                Code.CHANGE_REJECTED,
                "$",
                f"order {order.order_no} changed at the channel but can no longer change",
                f"订单 {order.order_no} 在渠道被修改，但订单已不可修改",
                order.external_id,
            )
            return [self._dead(order.channel, refused, raw, source, order.position)]
        self.index.stage(order.channel, order.external_id, digest)
        self.counts[{"place": "placed", "change": "changed", "cancel": "cancelled"}[kind]] += 1
        return [
            Command(kind, order.channel, order.external_id, order.order_no, order.order_id, value),
            Seen(
                order.channel,
                order.external_id,
                order.order_no,
                self.index.history(order.channel, order.external_id),
            ),
        ]

    def _place_value(self, order: IntakeOrder) -> bytes:
        cached = self._placed.pop(id(order), None)
        if cached is not None and cached[0] is order:
            return cached[1]
        return self._encode(place_order(order))

    def _decide_return(self, ret: IntakeReturn) -> list[Output]:
        # A return is taken once: a redelivery, or the channel's later version of it (its
        # status moving on at the platform), is acknowledged and ignored; the engine
        # follows the return from there.
        digest = ret.content_hash()
        decision = self.index.decide(ret.channel, ret.dedup_id, digest)
        if decision.verdict is not Verdict.NEW:
            self.counts["duplicate"] += 1
            log.info("intake.duplicate", channel=ret.channel, external_id=ret.dedup_id)
            return [Duplicate(ret.channel, ret.dedup_id, ret.return_no)]
        value = self._encode(request_return(ret))
        self.index.stage(ret.channel, ret.dedup_id, digest)
        self.counts["returned"] += 1
        return [
            Command("return", ret.channel, ret.dedup_id, ret.return_no, ret.order_id, value),
            Seen(
                ret.channel,
                ret.dedup_id,
                ret.return_no,
                self.index.history(ret.channel, ret.dedup_id),
            ),
        ]

    def _encode(self, command: commands.Command) -> bytes:
        return commands.encode(self.codec, command, topic=self.commands_topic)

    def _dead(
        self, channel: str, rejection: Rejection, raw: bytes, source: Source, position: str = ""
    ) -> Refused:
        self.counts[rejection.code.value] += 1
        log.warning(
            "intake.dead_letter",
            channel=channel,
            code=rejection.code.value,
            field=rejection.field,
            external_id=rejection.external_id,
            message=rejection.en,
            topic=source.topic,
            partition=source.partition,
            offset=source.offset,
        )
        return Refused(rejection, raw, dead_letter(channel, rejection, source, position))
