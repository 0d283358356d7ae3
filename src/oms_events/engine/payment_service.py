"""The payment service: the money of each order, on Payment aggregates.

Consumes ``oms.payment.commands`` keyed by the order's payment id:

* CapturePayment (from the order service: paid at the channel, or paid on a change;
  from the notification endpoint: a trade we opened was paid) -> PaymentRequested (the
  first tender opens the payment) and PaymentCaptured, once per tender; a trade of
  ours also -> RecordPayment to the order
* RequestPayment (the order owes more: its PaymentDue) -> TenderRequested
* RequestRefund (the order agreed a refund, or owes one: its RefundAgreed / RefundDue)
  -> RefundRequested, split over the tenders; the payment desk then asks the providers
* RecordRefundOutcome (from the payment desk) -> PaymentRefunded and a RecordRefund to
  the order, or RefundFailed (the shares are refundable again)

A trade is opened and a refund asked of a provider only after its TenderRequested /
RefundRequested is committed, by the payment desk (``payment_desk.py``), outside this
transaction: an HTTP call cannot be rolled back with a Kafka transaction, so it is
made at least once, with the trade number / refund id as the provider's idempotency
key.
"""

from __future__ import annotations

from uuid import UUID

from oms_events.domain.money import Money
from oms_events.domain.order import PaymentMethod
from oms_events.domain.payment import Payment, order_of_trade
from oms_events.engine.commands import (
    CapturePayment,
    PaymentCommand,
    RecordPayment,
    RecordRefund,
    RecordRefundOutcome,
    RequestPayment,
    RequestRefund,
)
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.service import Service


class PaymentService(Service):
    """Handlers of payment commands."""

    name = "payment"
    aggregate_type = "payment"

    def __init__(self) -> None:
        self.handlers = {
            CapturePayment: self.capture,
            RequestPayment: self.request,
            RequestRefund: self.refund,
            RecordRefundOutcome: self.outcome,
        }

    def capture(self, command: CapturePayment, partition: Partition, out: Outbox) -> None:
        """Money taken on a tender; a tender already captured is left as it is.

        A trade we opened ourselves (its provider notified the payment) was asked for
        by the order, which does not know it is paid: it is told (RecordPayment), once.
        """
        ours = order_of_trade(command.reference) == command.order_id
        if ours:
            payment = self._payment(command, partition)
        else:
            payment = self._open(
                command, partition, command.reference, command.order_method, command.amount
            )
        payment.capture(
            command.reference,
            command.method,
            Money(command.amount, command.currency),
            command.provider_reference,
        )
        new = out.events("payment", partition, payment, command.command_id)
        if ours and new:
            out.command(
                RecordPayment(
                    command_id=f"{command.command_id}/order",
                    order_id=command.order_id,
                    payment_id=command.reference,
                    amount=command.amount,
                    currency=command.currency,
                )
            )

    def request(self, command: RequestPayment, partition: Partition, out: Outbox) -> None:
        """The order owes more: ask under a new tender."""
        payment = self._open(
            command, partition, command.reference, command.order_method, command.amount
        )
        payment.request_more(
            command.reference, command.method, Money(command.amount, command.currency)
        )
        out.events("payment", partition, payment, command.command_id)

    def refund(self, command: RequestRefund, partition: Partition, out: Outbox) -> None:
        """Reserve the refund on the tenders; the payment desk asks the providers."""
        payment = self._payment(command, partition)
        payment.request_refund(
            command.refund_id, Money(command.amount, command.currency), command.reason
        )
        out.events("payment", partition, payment, command.command_id)

    def outcome(self, command: RecordRefundOutcome, partition: Partition, out: Outbox) -> None:
        """Record what the providers answered; a success is told to the order."""
        payment = self._payment(command, partition)
        if command.succeeded:
            payment.refund_succeeded(
                command.refund_id, {t.tender: t.provider_refund_id for t in command.tenders}
            )
        else:
            payment.refund_failed(command.refund_id, command.failure)
        new = out.events("payment", partition, payment, command.command_id)
        if command.succeeded and new:
            refund = payment.refunds[command.refund_id]
            out.command(
                RecordRefund(
                    command_id=f"{command.command_id}/order",
                    order_id=command.order_id,
                    refund_id=command.refund_id,
                    amount=refund.amount.amount,
                    currency=refund.amount.currency,
                )
            )

    @staticmethod
    def _payment(command: PaymentCommand, partition: Partition) -> Payment:
        # The order's payment; a refund or its outcome needs one that took money.
        payment: Payment | None = partition.get(UUID(command.key))
        if payment is None:
            raise ValueError(f"order {command.order_id} has no payment")
        return payment

    @staticmethod
    def _open(
        command: PaymentCommand,
        partition: Partition,
        reference: str,
        method: PaymentMethod,
        amount: int,
    ) -> Payment:
        # The order's payment, opened by the first tender that reaches it.
        payment: Payment | None = partition.get(UUID(command.key))
        if payment is None:
            payment = Payment.request(
                command.order_id,
                method,
                Money(amount, command.currency),
                reference,
                order_no=command.order_no,
                channel=command.channel,
            )
        return payment
