"""The providers' notifications, received: verified through the gateway port, turned
into a command or a dead letter, and answered as each provider expects.

* A verified ``paid`` notification of a trade we opened (``ids.trade_no``)
  becomes a CapturePayment to ``oms.payment.commands``, keyed by the order's payment,
  with the notification's id as command id. A resend (same ``notify_id``), or another
  notification of the same trade, has no second effect: the Payment captures a tender
  once. Only once the broker has the command is the provider acknowledged, so a
  notification we could not record is resent by the provider.
* A refused one (bad signature, undecryptable, stale, another merchant's …) is
  answered with the provider's failure answer (HTTP 400) and dead-lettered with its
  body and headers kept (``NotificationRefused.dead_letter_reason``).
* Refunds: the payment desk records a refund's outcome from the provider's synchronous
  answer when it is final (Alipay); one the provider accepted as processing (WeChat
  Pay) stays requested until its notification: a ``refunded`` / ``refund_failed``
  notification of a trade of ours becomes a SettleRefund, which records the success
  (told to the order) or the failure (the shares are refundable again). Settling a
  refund already settled the same way moves nothing; a failure of a refund the ledger
  holds as paid is refused by the payment service and dead-lettered for an operator.
  A ``paid`` notification of a trade that is not ours is acknowledged and
  dead-lettered. ``closed`` (a trade closed unpaid) only needs acknowledging.
* Whether the amount paid is the amount asked for is the payment's to judge (it knows
  what was asked): a capture of another amount is refused there and dead-lettered
  (``payment.amount_invalid``), never captured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import structlog

from oms_events import topics
from oms_events.avro.codec import Codec
from oms_events.deadletter import WHOLE, DeadLetter, Reason, Source
from oms_events.domain.ids import order_of_trade
from oms_events.domain.order import PaymentMethod
from oms_events.engine.commands import CapturePayment, PaymentCommand, SettleRefund
from oms_events.engine.records import CommandWriter
from oms_events.kafka.connection import producer
from oms_events.payments.gateway import (
    NotificationRefused,
    PaymentGateway,
    PaymentNotification,
)
from oms_events.settings import Settings

log = structlog.get_logger(__name__)

Answer = tuple[int, str, bytes]  # HTTP status, content type, body
PROCESSOR = "payments.notify"
METHODS: Mapping[str, PaymentMethod] = {
    "alipay": PaymentMethod.ALIPAY,
    "wechatpay": PaymentMethod.WECHAT_PAY,
}


class NotificationSink(Protocol):
    """Where received notifications go: Kafka in production."""

    def record(self, command: PaymentCommand) -> None:
        """Record the command (a capture, a refund settled); return once it is durable."""
        ...

    def dead_letter(self, letter: DeadLetter, body: bytes, headers: Mapping[str, str]) -> None:
        """Keep a notification an operator must look at; return once it is durable."""
        ...


def notify_path(provider: str) -> str:
    """Our endpoint for ``provider``'s notifications (what the dead letters name as source)."""
    return f"/payments/{provider}/notify"


def settlement_of(notification: PaymentNotification) -> SettleRefund | None:
    """The refund settlement a verified ``refunded`` / ``refund_failed`` notification of
    a trade of ours means; None for anything else."""
    order_id = order_of_trade(notification.out_trade_no)
    if notification.status not in ("refunded", "refund_failed") or order_id is None:
        return None
    if not notification.refund_no:
        return None  # a refund we cannot name: an operator looks (see receive)
    return SettleRefund(
        command_id=f"notify/{notification.provider}/{notification.notify_id}",
        order_id=order_id,
        order_no="",
        channel="",
        currency=notification.currency,
        tender=notification.out_trade_no,
        refund_key=notification.refund_no,
        succeeded=notification.status == "refunded",
        provider_refund_id=notification.provider_refund_id,
        failure=notification.failure or "refund failed at the provider",
    )


def capture_of(notification: PaymentNotification) -> CapturePayment | None:
    """The capture a verified ``paid`` notification means; None when the trade is not
    one we opened."""
    order_id = order_of_trade(notification.out_trade_no)
    if notification.status != "paid" or order_id is None:
        return None
    method = METHODS[notification.provider]
    return CapturePayment(
        command_id=f"notify/{notification.provider}/{notification.notify_id}",
        order_id=order_id,
        # The payment exists (it asked for the trade) and knows its order's number.
        order_no="",
        channel="",
        currency=notification.currency,
        reference=notification.out_trade_no,
        method=method.value,
        amount=notification.amount,
        order_method=method,
        provider_reference=notification.transaction_id,
    )


class Notifications:
    """Receives one provider's notification at a time (thread-safe if the sink is)."""

    def __init__(self, gateways: Mapping[str, PaymentGateway], sink: NotificationSink) -> None:
        self.gateways = gateways
        self.sink = sink

    def receive(self, provider: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Verify, record and answer one notification posted by ``provider``."""
        gateway = self.gateways[provider]
        try:
            notification = gateway.parse_notification(headers, body)
        except NotificationRefused as refused:
            letter = DeadLetter(
                refused.dead_letter_reason(),
                Source(notify_path(provider)),
                PROCESSOR,
                {"provider": provider},
            )
            self.sink.dead_letter(letter, body, headers)
            log.warning("notification refused", provider=provider, code=str(refused.code))
            return gateway.refusal(refused.reason)
        command: PaymentCommand | None = capture_of(notification) or settlement_of(notification)
        if command is not None:
            self.sink.record(command)
        elif notification.status in ("paid", "refund_failed"):
            self.sink.dead_letter(_unsettled(notification), body, headers)
        log.info(
            "notification received",
            provider=provider,
            status=notification.status,
            out_trade_no=notification.out_trade_no,
            notify_id=notification.notify_id,
        )
        return gateway.acknowledgement


def _unsettled(n: PaymentNotification) -> DeadLetter:
    # A verified notification we cannot act on by ourselves: an operator settles it.
    if n.status == "paid":
        code, en, zh = (
            "unknown_trade",
            f"paid trade {n.out_trade_no} was not opened by us",
            f"已支付交易 {n.out_trade_no} 不是本系统发起的",
        )
    else:
        code, en, zh = (
            "refund_failed",
            f"refund {n.refund_no} of trade {n.out_trade_no} failed at the provider",
            f"交易 {n.out_trade_no} 的退款 {n.refund_no} 在支付机构处失败",
        )
    return DeadLetter(
        Reason(f"payment.{n.provider}.{code}", WHOLE, en, zh, "PaymentNotification"),
        Source(notify_path(n.provider)),
        PROCESSOR,
        {"provider": n.provider, "notify_id": n.notify_id, "out_trade_no": n.out_trade_no},
    )


class KafkaNotificationSink:
    """Captures to ``oms.payment.commands``, letters to ``oms.deadletter``, each sent
    and waited for (acks=all) before the provider is answered."""

    def __init__(self, settings: Settings, codec: Codec) -> None:
        self.settings = settings
        self.writer = CommandWriter(settings, codec)
        self.producer: Any = producer(settings)

    def record(self, command: PaymentCommand) -> None:
        """Send the command and wait for the broker."""
        r = self.writer.record(command)
        self.producer.send(r.topic, key=r.key, value=r.value, headers=r.headers).get(30)

    def dead_letter(self, letter: DeadLetter, body: bytes, headers: Mapping[str, str]) -> None:
        """Send the letter (the body and headers as posted) and wait for the broker."""
        topic = topics.name(self.settings, topics.DEADLETTER)
        original = [(k, v.encode()) for k, v in headers.items()]
        sent = self.producer.send(topic, key=None, value=body, headers=letter.headers(original))
        sent.get(30)

    def close(self) -> None:
        """Flush and close the producer."""
        self.producer.close()
