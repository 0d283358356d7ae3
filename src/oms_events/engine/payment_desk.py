"""The payment desk: opens at the providers the trades the payment service asked for,
asks them for the refunds it recorded, and sends the refunds' answers back as commands.

A provider call is a side effect no Kafka transaction can roll back, so it is made
here, after the TenderRequested / RefundRequested is committed, at least once: the
desk folds every ``oms.payment.events`` partition into Payment aggregates (read
committed, from the beginning), and once caught up acts on what is still open; later
events as they arrive.

* A requested tender of a provider's method (a trade of ours, ``ids.trade_no``)
  is opened with ``request_payment`` under its reference as the out_trade_no: opening
  it again (a desk restarted) is the same trade at the provider. The money arrives by
  the provider's notification (``payments/notify.py``), as a CapturePayment.
* Each tender's share of a refund is asked with a key derived from the refund id
  (the provider's idempotency key), so a desk that crashed after the provider paid
  and before the outcome was committed asks again and moves no money: the provider
  answers its first result. The outcome goes to ``oms.payment.commands`` as a
  RecordRefundOutcome whose command id is the refund's, so a repeat has no effect.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping
from typing import Any
from uuid import UUID

import httpx
import structlog

from oms_events import eventlog, topics, waits
from oms_events.avro.codec import Codec
from oms_events.domain.ids import order_of_trade
from oms_events.domain.payment import Payment, Refund, RefundStatus, provider_of, refund_keys
from oms_events.engine.commands import RecordRefundOutcome, RecordTradeClosed, RefundTender
from oms_events.engine.records import CommandWriter
from oms_events.kafka.connection import consumer, producer
from oms_events.kafka.errors import KafkaError, KafkaUnavailable
from oms_events.kafka.port import TopicPartition
from oms_events.payments.gateway import GatewayError, PaymentGateway
from oms_events.recovery import Backoff
from oms_events.settings import Settings

log = structlog.get_logger(__name__)

RETRY_S = 5.0  # a provider that could not be reached is asked again after this


class PartlyRefunded(RuntimeError):
    """A provider refused a share of a refund after another provider paid its share."""


def outcome(
    payment: Payment, refund: Refund, gateways: Mapping[str, PaymentGateway]
) -> RecordRefundOutcome | None:
    """Ask the providers for each tender's share of ``refund``; their answer as a
    command (raises httpx.HTTPError when a provider cannot be reached, PartlyRefunded
    when one refused after another paid: ask later, with the same keys).

    None when a provider accepted a share as processing (WeChat Pay answers
    ``PROCESSING``): the refund stays requested until its notification settles it
    (REFUND.SUCCESS / REFUND.ABNORMAL, a SettleRefund from ``payments/notify.py``).

    A provider refusing the first share asked fails the refund (nothing moved; its
    shares are refundable again). Once a provider has paid a share, the refund cannot
    fail any more without the ledger lying: it stays pending and is asked again, the
    paid shares answering their first result.

    A tender without a gateway (cash, card through a PSP not wired yet) is refunded
    by hand at the till or in the PSP's console: recorded as succeeded, reference
    ``manual``.
    """
    answers: list[RefundTender] = []
    paid = False  # a provider has given a share back
    processing = False  # a provider will say later
    for tender, key in refund_keys(refund).items():
        t = payment.tenders[tender]
        gateway = gateways.get(provider_of(t.method))
        if gateway is None:
            answers.append(RefundTender(tender=tender, provider_refund_id="manual"))
            continue
        try:
            accepted = gateway.request_refund(
                tender,
                key,
                refund.parts[tender].amount,
                t.captured.amount,
                payment.currency,
                refund.reason,
            )
        except GatewayError as error:
            if paid:
                raise PartlyRefunded(f"{refund.refund_id}: {tender} refused: {error}") from error
            return _command(payment, refund, succeeded=False, failure=str(error))
        paid = True
        processing = processing or not accepted.settled
        answers.append(RefundTender(tender=tender, provider_refund_id=accepted.provider_refund_id))
    if processing:
        return None
    return _command(payment, refund, succeeded=True, tenders=tuple(answers))


def _command(payment: Payment, refund: Refund, **result: Any) -> RecordRefundOutcome:
    return RecordRefundOutcome(
        command_id=f"refund-outcome/{refund.refund_id}",
        order_id=payment.order_id,
        order_no=payment.order_no,
        channel=payment.channel,
        currency=payment.currency,
        refund_id=refund.refund_id,
        **result,
    )


def trades_to_close(payment: Payment) -> list[tuple[str, str]]:
    """(reference, provider) of each voided tender that was a trade of ours at a
    provider: closed there, so that nobody can pay what the order no longer wants."""
    return [
        (reference, provider_of(method))
        for reference, (method, _) in payment.voided.items()
        if provider_of(method)
        and order_of_trade(reference) == payment.order_id
        and reference not in payment.trades_closed
    ]


def trades_to_open(payment: Payment) -> list[tuple[str, str, int]]:
    """(reference, provider, amount) of each tender we asked for and must open at its
    provider: a trade of ours (``trade_no``), not captured yet, of a provider's method.
    A tender asked of the channel (COD, the channel's own trade) is not ours to open."""
    return [
        (reference, provider_of(method), money.amount)
        for reference, (method, money) in payment.requested.items()
        if provider_of(method) and order_of_trade(reference) == payment.order_id
    ]


class PaymentDesk(threading.Thread):
    """Follows the payment events: opens requested trades and settles each requested
    refund with its provider."""

    def __init__(
        self,
        settings: Settings,
        codec: Codec,
        gateways: Mapping[str, PaymentGateway],
        stop: threading.Event,
    ) -> None:
        super().__init__(name="payment-desk", daemon=True)
        self.settings, self.codec, self.gateways, self.stop_event = settings, codec, gateways, stop
        self.events = eventlog.EventLog(codec, settings=settings)
        self.writer = CommandWriter(settings, codec)
        self.payments: dict[UUID, Payment] = {}
        # Refunds whose outcome this desk sent: the processor records it, nothing to ask.
        self.answered: set[str] = set()
        self.retry_at: dict[str, float] = {}  # refund id / trade -> when to ask again
        self.opened: set[str] = set()  # trades this desk opened
        self.closed: set[str] = set()  # trades this desk closed
        # Where each payment's last event was read, and the partition's end offset taken
        # after it: a trade is opened only once the desk has read that far, so that a
        # tender captured in the same transaction that asked for it is never opened.
        self.read_at: dict[UUID, tuple[TopicPartition, int | None]] = {}
        # Payments changed since they last had nothing to open: the only ones looked at.
        self.asking: set[UUID] = set()
        self.error: BaseException | None = None

    def run(self) -> None:
        """Fold the events; once caught up, open and settle whatever is still pending.

        A Kafka outage is waited out (``recovery.py``), as the processors do: the events
        are folded again from the beginning over new clients, as after a restart, while
        what this desk already did (answered, opened, closed) is kept, so a broker
        restart never stops the engine and nothing is asked of a provider twice for it.
        """
        board = waits.WaitBoard(waits.folder(self.settings), "payment-desk")
        backoff = Backoff(self.settings.recovery, self.stop_event.is_set, board)
        while not self.stop_event.is_set():
            try:
                self._follow(backoff)
            except (KafkaError, KafkaUnavailable) as exc:
                self.payments.clear()  # folded again from the first event
                self.read_at.clear()
                self.asking.clear()
                backoff.wait("Kafka", exc)
            except Exception as error:
                self.error = error
                log.exception("payment desk failed")
                return

    def _follow(self, backoff: Backoff) -> None:
        topic = topics.name(self.settings, topics.events("payment"))
        c = consumer(self.settings, group_id=None, client_id="oms-payment-desk")
        p = producer(self.settings)
        try:
            parts = [TopicPartition(topic, n) for n in range(self.settings.kafka.partitions)]
            c.assign(parts)
            c.seek_to_beginning(*parts)
            end = c.end_offsets(parts)
            caught_up = False
            while not self.stop_event.is_set():
                for tp, records in c.poll(timeout_ms=200, max_records=2000).items():
                    for r in records:
                        pid = self._fold(r.value or b"")
                        self.read_at[pid] = (tp, None)
                        self.asking.add(pid)
                if not caught_up:
                    caught_up = all(c.position(tp) >= end[tp] for tp in parts)
                if caught_up:
                    self._open(c)
                    self._close(p)
                    self._settle(p)
                    backoff.recovered()
        finally:
            with contextlib.suppress(Exception):  # the broker may be gone
                c.close()
            with contextlib.suppress(Exception):
                p.close()

    def _fold(self, value: bytes) -> UUID:
        event: Any = self.events.event(value)
        self.payments[event.originator_id] = event.mutate(self.payments.get(event.originator_id))
        return UUID(str(event.originator_id))

    def _open(self, c: Any) -> None:
        """Open at its provider each trade still waiting for one."""
        now = time.monotonic()
        waiting = []
        for pid in list(self.asking):
            payment = self.payments[pid]
            trades = [t for t in trades_to_open(payment) if t[0] not in self.opened]
            closing = [t for t in trades_to_close(payment) if t[0] not in self.closed]
            if not trades and not closing:
                self.asking.discard(pid)
            waiting += [(pid, t) for t in trades if now >= self.retry_at.get(t[0], now)]
        unmarked = {self.read_at[pid][0] for pid, _ in waiting if self.read_at[pid][1] is None}
        if unmarked:
            ends = c.end_offsets(list(unmarked))
            for pid, _ in waiting:
                tp, mark = self.read_at[pid]
                if mark is None:
                    self.read_at[pid] = (tp, ends[tp])
        for pid, (reference, provider, amount) in waiting:
            tp, mark = self.read_at[pid]
            if mark is None or c.position(tp) < mark:
                continue  # the rest of the transaction that asked may still capture it
            payment = self.payments[pid]
            gateway = self.gateways.get(provider)
            if gateway is None:
                continue  # a provider not configured here: nothing to open
            try:
                asked = gateway.request_payment(
                    reference, amount, payment.currency, f"order {payment.order_no}"
                )
            except (httpx.HTTPError, GatewayError) as error:
                self.retry_at[reference] = now + RETRY_S
                log.warning("trade not opened", out_trade_no=reference, error=str(error))
                continue
            self.opened.add(reference)
            self.retry_at.pop(reference, None)
            log.info("trade opened", out_trade_no=reference, pay_url=asked.pay_url)

    def _close(self, p: Any) -> None:
        """Close at its provider each voided trade of ours not closed yet, and record it
        (RecordTradeClosed, keyed by the trade: a repeat has no effect). A desk that
        stopped between the two closes it again: no error at the providers."""
        now = time.monotonic()
        for pid in list(self.asking):
            for reference, provider in trades_to_close(self.payments[pid]):
                gateway = self.gateways.get(provider)
                if reference in self.closed or gateway is None:
                    continue
                if now < self.retry_at.get(reference, now):
                    continue
                try:
                    gateway.close_trade(reference)
                except (httpx.HTTPError, GatewayError) as error:
                    # Paid before it closed: the money comes by notification and the
                    # cancelled order refunds it; anything else is asked again later.
                    self.retry_at[reference] = now + RETRY_S
                    log.warning("trade not closed", out_trade_no=reference, error=str(error))
                    continue
                payment = self.payments[pid]
                record = self.writer.record(
                    RecordTradeClosed(
                        command_id=f"trade-closed/{reference}",
                        order_id=payment.order_id,
                        order_no=payment.order_no,
                        channel=payment.channel,
                        currency=payment.currency,
                        reference=reference,
                    )
                )
                p.send(record.topic, key=record.key, value=record.value, headers=record.headers)
                p.flush()
                self.closed.add(reference)
                self.retry_at.pop(reference, None)
                log.info("trade closed", out_trade_no=reference)

    def _settle(self, p: Any) -> None:
        now = time.monotonic()
        for payment in self.payments.values():
            for refund in payment.refunds.values():
                if refund.status is not RefundStatus.REQUESTED or refund.refund_id in self.answered:
                    continue
                if now < self.retry_at.get(refund.refund_id, now):
                    continue
                try:
                    command = outcome(payment, refund, self.gateways)
                except (httpx.HTTPError, PartlyRefunded) as error:
                    self.retry_at[refund.refund_id] = now + RETRY_S
                    log.warning("refund not settled", refund_id=refund.refund_id, error=str(error))
                    continue
                if command is None:
                    self.answered.add(refund.refund_id)  # its notification will settle it
                    log.info("refund processing at the provider", refund_id=refund.refund_id)
                    continue
                record = self.writer.record(command)
                p.send(record.topic, key=record.key, value=record.value, headers=record.headers)
                p.flush()
                self.answered.add(refund.refund_id)
                self.retry_at.pop(refund.refund_id, None)
                log.info("refund answered", refund_id=refund.refund_id, succeeded=command.succeeded)
