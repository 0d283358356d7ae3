"""The payment gateway port: what the payment processor asks of a provider, and what a
provider's notification means once it is verified.

A :class:`PaymentGateway` does three things, the same for every provider:

``request_payment(out_trade_no, amount, currency, subject)``
    Open a trade for the customer to pay; returns a :class:`PaymentRequested` (the QR
    code / pay URL). The money moves later: the provider *notifies*.
``request_refund(out_trade_no, refund_no, amount, trade_amount, currency, …)``
    Refund ``amount`` of a paid trade of ``trade_amount`` (WeChat Pay wants both).
    ``refund_no`` is the idempotency key (Alipay ``out_request_no``, WeChat Pay
    ``out_refund_no``): asking again with the same key returns the first result and
    moves no money, so a processor that crashed mid-refund simply asks again with the
    key it recorded before asking. Returns a :class:`RefundAccepted`.
``close_trade(out_trade_no)``
    Close a trade nobody has paid and that we no longer want paid (the order was
    cancelled): Alipay ``alipay.trade.close``, WeChat Pay's close order. Closing a
    trade already closed, or one the provider never created (an Alipay precreate
    nobody scanned), succeeds; a paid trade raises :class:`GatewayError` (its money
    arrives by notification and is refunded).
``parse_notification(headers, body)``
    Verify the provider's signature (and decrypt, for WeChat Pay) and return a typed
    :class:`PaymentNotification`; raises :class:`NotificationRefused` with a
    :class:`RefusalCode` and a sentence otherwise. The caller:

    * dead-letters a refused notification
      (:meth:`NotificationRefused.dead_letter_reason`);
    * ignores one whose ``notify_id`` it has already recorded (providers resend until
      acknowledged, and a resend carries the same ``notify_id``);
    * answers :attr:`PaymentGateway.acknowledgement` once it has recorded it, and
      :meth:`PaymentGateway.refusal` to one it refused.

Amounts are integers in the currency's minor units (fen for CNY) everywhere in the
port; only the provider modules see the providers' decimal strings.

Notifications may arrive in any order (a refund's before its payment's, when the
payment's first delivery failed): each one carries its own ``status`` and is
meaningful alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Literal, Protocol

from oms_events.deadletter import WHOLE, Reason
from oms_events.domain.money import minor_units

Provider = Literal["alipay", "wechatpay"]

NotificationStatus = Literal["paid", "refunded", "refund_failed", "closed"]
"""``paid``: the customer paid ``amount``. ``refunded``: the refund ``refund_no`` reached
the customer. ``refund_failed``: it did not (WeChat Pay ``REFUND.ABNORMAL`` / ``CLOSED``);
ask again with a new key or refund by other means. ``closed``: the trade closed unpaid."""


class RefusalCode(StrEnum):
    """Why a notification was refused; the dead letter's ``dlq.code`` suffix."""

    SIGNATURE = "signature"  # missing, malformed or not made by the provider's key
    DECRYPTION = "decryption"  # WeChat Pay resource: wrong key, tampered text or tag
    STALE = "stale"  # WeChat Pay timestamp outside the allowed clock skew
    MALFORMED = "malformed"  # signed, but not a notification we can read
    UNSUPPORTED = "unsupported"  # signed and readable, but no money movement we know
    MERCHANT = "merchant"  # signed for another merchant / app than ours


REFUSAL_ZH: dict[RefusalCode, str] = {
    RefusalCode.SIGNATURE: "通知验签失败",
    RefusalCode.DECRYPTION: "通知资源解密失败",
    RefusalCode.STALE: "通知时间戳超出允许范围",
    RefusalCode.MALFORMED: "通知格式无法解析",
    RefusalCode.UNSUPPORTED: "通知类型不涉及资金变动",
    RefusalCode.MERCHANT: "通知不属于本商户",
}


class NotificationRefused(Exception):
    """A notification that must not be acted upon; ``code`` says why, the message
    says it to an operator."""

    def __init__(self, provider: Provider, code: RefusalCode, message: str) -> None:
        super().__init__(f"{provider} notification refused ({code}): {message}")
        self.provider = provider
        self.code = code
        self.reason = message

    def dead_letter_reason(self) -> Reason:
        """The dead letter's reason (``dlq.code`` ``payment.<provider>.<code>``), for
        the writer that keeps the refused notification's body and headers."""
        return Reason(
            code=f"payment.{self.provider}.{self.code}",
            field=WHOLE,
            en=str(self),
            zh=f"{self.provider} {REFUSAL_ZH[self.code]}：{self.reason}",
            error_class=type(self).__name__,
        )


class GatewayError(RuntimeError):
    """A provider refused a request or answered something we cannot trust."""


@dataclass(frozen=True)
class PaymentNotification:
    """A verified notification: one money movement (or a closure) on one trade."""

    provider: Provider
    notify_id: str  # the same on every resend of this notification
    out_trade_no: str  # our reference of the trade (the order's payment)
    transaction_id: str  # the provider's reference of the trade
    status: NotificationStatus
    amount: int  # the trade's total, minor units
    currency: str  # ISO 4217
    refund_no: str | None = None  # the refund's idempotency key, for refund statuses
    refund_amount: int | None = None  # this refund's amount when the provider states it
    refunded_total: int | None = None  # refunded on the trade so far, when stated
    provider_refund_id: str = ""  # the provider's id of the refund, when stated
    failure: str = ""  # why a refund failed, in the provider's words


@dataclass(frozen=True)
class PaymentRequested:
    """A trade opened at the provider, waiting for the customer."""

    provider: Provider
    out_trade_no: str
    pay_url: str  # what the customer scans or opens (Alipay qr_code, WeChat code_url)


@dataclass(frozen=True)
class RefundAccepted:
    """The provider's answer to a refund request."""

    provider: Provider
    out_trade_no: str
    refund_no: str
    amount: int  # this refund, minor units
    provider_refund_id: str
    settled: bool  # True: the money is back (Alipay answers so); False: a notification will say


class PaymentGateway(Protocol):
    """One provider, seen from the payment processor."""

    provider: Provider

    @property
    def acknowledgement(self) -> tuple[int, str, bytes]:
        """HTTP status, content type and body that tell the provider to stop resending."""
        ...

    def refusal(self, reason: str) -> tuple[int, str, bytes]:
        """HTTP status (4xx), content type and body of the provider's documented failure
        answer to a notification we refuse (it will resend it)."""
        ...

    def request_payment(
        self, out_trade_no: str, amount: int, currency: str, subject: str
    ) -> PaymentRequested:
        """Open a trade of ``amount`` minor units for the customer to pay."""
        ...

    def request_refund(
        self,
        out_trade_no: str,
        refund_no: str,
        amount: int,
        trade_amount: int,
        currency: str,
        reason: str,
    ) -> RefundAccepted:
        """Refund ``amount`` of a paid trade, at most once per ``refund_no``."""
        ...

    def close_trade(self, out_trade_no: str) -> None:
        """Close an unpaid trade so that it can no longer be paid."""
        ...

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> PaymentNotification:
        """Verify and read one notification; raises :class:`NotificationRefused`."""
        ...


# CNY, the only currency both providers settle domestically; its digits come from the
# ISO 4217 table the domain's Money uses, not a number of our own.
MINOR_DIGITS = minor_units("CNY")


def to_minor(text: str) -> int:
    """A provider's decimal amount ("88.80") in minor units (8880); ValueError when it
    is not a non-negative amount with at most two decimals."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r}") from None
    scaled = value.scaleb(MINOR_DIGITS)
    if not value.is_finite() or value < 0 or scaled != scaled.to_integral_value():
        raise ValueError(f"not an amount with at most {MINOR_DIGITS} decimals: {text!r}")
    return int(scaled)


def to_decimal_text(minor: int) -> str:
    """Minor units (8880) as the providers' decimal text ("88.80")."""
    if minor < 0:
        raise ValueError(f"negative amount: {minor}")
    return f"{Decimal(minor).scaleb(-MINOR_DIGITS):.{MINOR_DIGITS}f}"
