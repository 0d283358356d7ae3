"""The Payment aggregate: money for an order, authorized, captured and refunded.

Prepaid methods (card, Alipay, WeChat Pay) authorize then capture; cash on
delivery is collected by the carrier at the door. Nothing is ever refunded
beyond what was captured.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from oms_events.domain.errors import (
    InvalidOrder,
    InvalidTransition,
    PaymentAmountInvalid,
    PaymentMethodMismatch,
    ReasonRequired,
)
from oms_events.domain.ids import natural_id
from oms_events.domain.money import Money
from oms_events.domain.order import PaymentMethod


class PaymentStatus(StrEnum):
    """Where a payment is, derived from its amounts."""

    REQUESTED = "requested"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"


class Payment(Aggregate):
    """The money for one order (or one later balance, under another ``reference``)."""

    @staticmethod
    def create_id(order_id: UUID, reference: str) -> UUID:
        """The payment id: one per order and reference ("order" for the first payment)."""
        return natural_id("payment", order_id, reference)

    @classmethod
    def request(
        cls, order_id: UUID, method: PaymentMethod, amount: Money, reference: str = "order"
    ) -> Payment:
        """Ask the customer for ``amount`` (``PaymentRequested``)."""
        if amount.amount <= 0:
            raise PaymentAmountInvalid(action="request", amount=str(amount), limit="> 0")
        if not reference.strip():
            raise InvalidOrder(detail="payment reference is empty")
        return cls(
            order_id=order_id,
            reference=reference,
            method=PaymentMethod(method).value,
            amount=amount.to_dict(),
        )

    @event("PaymentRequested")
    def __init__(self, order_id: UUID, reference: str, method: str, amount: dict[str, Any]) -> None:
        self.order_id = order_id
        self.reference = reference
        self.method = PaymentMethod(method)
        self.requested = Money.from_dict(amount)
        zero = Money.zero(self.requested.currency)
        self.authorized = zero
        self.captured = zero
        self.refunded = zero
        self.refund_ids: set[str] = set()
        self.voided = False

    @property
    def status(self) -> PaymentStatus:
        """Status derived from the amounts, so it can never disagree with them."""
        if self.voided:
            return PaymentStatus.VOIDED
        if self.refunded.amount > 0:
            if self.refunded == self.captured:
                return PaymentStatus.REFUNDED
            return PaymentStatus.PARTIALLY_REFUNDED
        if self.captured.amount > 0:
            return PaymentStatus.CAPTURED
        if self.authorized.amount > 0:
            return PaymentStatus.AUTHORIZED
        return PaymentStatus.REQUESTED

    @property
    def refundable(self) -> Money:
        """Captured minus already refunded."""
        return self.captured - self.refunded

    def check_amount(self, action: str, amount: Money, limit: Money) -> None:
        """Raise PaymentAmountInvalid unless 0 < ``amount`` <= ``limit`` in the same currency."""
        if amount.currency != limit.currency or amount.amount <= 0 or amount > limit:
            raise PaymentAmountInvalid(action=action, amount=str(amount), limit=str(limit))

    def check_not_voided(self, action: str) -> None:
        """Raise InvalidTransition on a voided payment."""
        if self.voided:
            raise InvalidTransition(entity="payment", action=action, status="voided")

    def authorize(self, amount: Money, authorization: str) -> None:
        """The provider authorized ``amount`` (``PaymentAuthorized``); not for COD."""
        self.check_not_voided("authorize")
        if self.method is PaymentMethod.COD:
            raise PaymentMethodMismatch(action="authorize", method=self.method.value)
        self.check_amount("authorize", amount, self.requested - self.authorized)
        self._authorized(amount=amount.to_dict(), authorization=authorization)

    @event("PaymentAuthorized")
    def _authorized(self, amount: dict[str, Any], authorization: str) -> None:
        self.authorized = self.authorized + Money.from_dict(amount)

    def capture(self, amount: Money) -> None:
        """Take authorized money (``PaymentCaptured``); never more than authorized."""
        self.check_not_voided("capture")
        self.check_amount("capture", amount, self.authorized - self.captured)
        self._captured(amount=amount.to_dict())

    @event("PaymentCaptured")
    def _captured(self, amount: dict[str, Any]) -> None:
        self.captured = self.captured + Money.from_dict(amount)

    def collect_cod(self, amount: Money) -> None:
        """The carrier collected cash at delivery (``CodCollected``); COD only."""
        self.check_not_voided("collect")
        if self.method is not PaymentMethod.COD:
            raise PaymentMethodMismatch(action="collect cash for", method=self.method.value)
        self.check_amount("collect", amount, self.requested - self.captured)
        self._cod_collected(amount=amount.to_dict())

    @event("CodCollected")
    def _cod_collected(self, amount: dict[str, Any]) -> None:
        collected = Money.from_dict(amount)
        # Cash in hand is authorized and captured at once.
        self.authorized = self.authorized + collected
        self.captured = self.captured + collected

    def refund(self, refund_id: str, amount: Money, reason: str) -> None:
        """Give money back (``PaymentRefunded``); a repeated refund id is ignored."""
        if refund_id in self.refund_ids:
            return
        if not reason or not reason.strip():
            raise ReasonRequired()
        self.check_amount("refund", amount, self.refundable)
        self._refunded(refund_id=refund_id, amount=amount.to_dict(), reason=reason)

    @event("PaymentRefunded")
    def _refunded(self, refund_id: str, amount: dict[str, Any], reason: str) -> None:
        self.refunded = self.refunded + Money.from_dict(amount)
        self.refund_ids.add(refund_id)

    def void(self, reason: str) -> None:
        """Cancel the payment before any money was taken (``PaymentVoided``)."""
        if self.voided:
            return
        if self.captured.amount > 0:
            raise InvalidTransition(entity="payment", action="void", status=self.status.value)
        if not reason or not reason.strip():
            raise ReasonRequired()
        self._voided(reason=reason)

    @event("PaymentVoided")
    def _voided(self, reason: str) -> None:
        self.voided = True
