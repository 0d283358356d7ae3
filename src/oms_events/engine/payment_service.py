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
* SettleRefund (from the notification endpoint: a refund the provider had accepted as
  processing, WeChat Pay's REFUND.SUCCESS / REFUND.ABNORMAL) -> the same
* CollectCod (from the order service: a delivered scan with cash collected) ->
  CodCollected on the COD tenders asked for, once per waybill (a part of them per
  parcel when the order shipped in several), and a RecordPayment of that cash to the
  order (payment id ``cod:<carrier>:<waybill>``): the order is paid once the parts
  cover it
* RecordCodRemittance (``oms cod reconcile``) -> CodRemitted or CodRemittanceMissing
* VoidPayment (from the order service: the order was cancelled or rejected, or its
  open tender replaced) -> PaymentVoided for each tender still asked for; the payment
  desk closes their trades and says so (RecordTradeClosed -> TradeClosed)

A trade is opened and a refund asked of a provider only after its TenderRequested /
RefundRequested is committed, by the payment desk (``payment_desk.py``), outside this
transaction: an HTTP call cannot be rolled back with a Kafka transaction, so it is
made at least once, with the trade number / refund id as the provider's idempotency
key.
"""

from __future__ import annotations

from uuid import UUID

from oms_events.domain.errors import InvalidTransition
from oms_events.domain.ids import order_of_trade
from oms_events.domain.money import Money
from oms_events.domain.order import PaymentMethod
from oms_events.domain.payment import Payment, RefundStatus, cod_payment_id
from oms_events.engine.commands import (
    CapturePayment,
    CollectCod,
    PaymentCommand,
    RecordCodRemittance,
    RecordPayment,
    RecordRefund,
    RecordRefundOutcome,
    RecordTradeClosed,
    RefundTender,
    RequestPayment,
    RequestRefund,
    SettleRefund,
    VoidPayment,
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
            SettleRefund: self.settle,
            CollectCod: self.collect_cod,
            RecordCodRemittance: self.remittance,
            VoidPayment: self.void,
            RecordTradeClosed: self.trade_closed,
        }

    def capture(self, command: CapturePayment, partition: Partition, out: Outbox) -> None:
        """Money taken on a tender; a tender already captured is left as it is.

        A trade we opened ourselves (its provider notified the payment) was asked for
        by the order, which does not know it is paid: it is told (RecordPayment), once.

        A trade the order withdrew (cancelled, or replaced by one for a new total) that
        the customer paid before its close reached the provider is money the order does
        not want: captured (it did arrive) and refunded in full at once, and the order
        is told nothing.
        """
        ours = order_of_trade(command.reference) == command.order_id
        if ours:
            payment = self._payment(command, partition)
        else:
            payment = self._open(
                command, partition, command.reference, command.order_method, command.amount
            )
        withdrawn = command.reference in payment.voided
        amount = Money(command.amount, command.currency)
        payment.capture(command.reference, command.method, amount, command.provider_reference)
        if withdrawn and command.reference in payment.tenders:
            payment.refund_tender(
                f"{command.reference}-W", command.reference, "paid after the trade was withdrawn"
            )
        new = out.events("payment", partition, payment, command.command_id)
        if ours and new and not withdrawn:
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

    def settle(self, command: SettleRefund, partition: Partition, out: Outbox) -> None:
        """A provider settled a refund share it had accepted as processing: a success is
        recorded and told to the order; a failure makes the shares refundable again.

        A failure for a refund the ledger already holds as paid contradicts it: refused
        (dead-lettered) for an operator."""
        payment = self._payment(command, partition)
        refund = payment.refund_of(command.tender, command.refund_key)
        if refund is None:
            raise ValueError(f"no refund of {command.tender} under {command.refund_key}")
        if refund.status is RefundStatus.SUCCEEDED and not command.succeeded:
            raise InvalidTransition(entity="refund", action="fail", status="succeeded")
        self.outcome(
            RecordRefundOutcome(
                command_id=command.command_id,
                order_id=command.order_id,
                order_no=payment.order_no,
                channel=payment.channel,
                currency=payment.currency,
                refund_id=refund.refund_id,
                succeeded=command.succeeded,
                tenders=(
                    (
                        RefundTender(
                            tender=command.tender, provider_refund_id=command.provider_refund_id
                        ),
                    )
                    if command.succeeded
                    else ()
                ),
                failure=command.failure,
            ),
            partition,
            out,
        )

    def collect_cod(self, command: CollectCod, partition: Partition, out: Outbox) -> None:
        """The courier collected cash on a waybill: the COD tenders asked for are paid
        (in part, by one parcel of several, when the command says what the parcel
        should bring), and the order learns of this cash (once per waybill).

        A payment that asked for nothing yet (an order placed before COD tenders were
        asked for at placing) is opened by the collection itself: the cash collected is
        all it knows to expect."""
        payment: Payment | None = partition.get(UUID(command.key))
        if payment is None:
            payment = Payment.request(
                command.order_id,
                PaymentMethod.COD,
                Money(command.amount, command.currency),
                f"{command.order_no or command.order_id}-cod",
                order_no=command.order_no,
                channel=command.channel,
            )
        payment.collect_cod(
            command.tracking_no,
            command.carrier,
            Money(command.amount, command.currency),
            command.collected_at,
            None if command.expected is None else Money(command.expected, command.currency),
        )
        new = out.events("payment", partition, payment, command.command_id)
        if new:
            out.command(
                RecordPayment(
                    command_id=f"{command.command_id}/order",
                    order_id=command.order_id,
                    payment_id=cod_payment_id(command.carrier, command.tracking_no),
                    amount=command.amount,
                    currency=command.currency,
                )
            )

    def remittance(self, command: RecordCodRemittance, partition: Partition, out: Outbox) -> None:
        """A courier's remittance file listed the waybill, or lacks it."""
        payment = self._payment(command, partition)
        if command.remitted is None:
            payment.cod_missing(command.tracking_no, command.batch)
        else:
            payment.remit_cod(
                command.tracking_no,
                command.batch,
                Money(command.remitted, command.currency),
                Money(command.fee, command.currency),
                command.remitted_on,
            )
        out.events("payment", partition, payment, command.command_id)

    def void(self, command: VoidPayment, partition: Partition, out: Outbox) -> None:
        """The order no longer wants the money it asked for: withdraw every tender still
        open, or the one named. An order that never asked (paid at the channel, say) has
        nothing to void."""
        payment: Payment | None = partition.get(UUID(command.key))
        if payment is None:
            return
        if command.reference is None:
            payment.void_open(command.reason)
        else:
            payment.void(command.reference, command.reason)
        out.events("payment", partition, payment, command.command_id)

    def trade_closed(self, command: RecordTradeClosed, partition: Partition, out: Outbox) -> None:
        """The desk closed a withdrawn tender's trade at its provider."""
        payment = self._payment(command, partition)
        payment.trade_closed(command.reference)
        out.events("payment", partition, payment, command.command_id)

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
