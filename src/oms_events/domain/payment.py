"""The Payment aggregate: the money of one order, tender by tender.

The first tender asked for opens it (``PaymentRequested``: the channel's payment at
placing); a balance owed after a change is another tender (``TenderRequested``).

A tender is one way the customer paid (an Alipay trade, a WeChat Pay trade, cash at
the door), named by our reference of it (the provider's ``out_trade_no``). Money is
captured per tender, and refunds go back to the tenders it came from, never more
than a tender captured: a refund reserves its share of each tender when it is
requested, so two refunds in flight can never overdraw one tender, and gives it back
if the provider fails it.

The ledger is every movement: +captured per tender, -refunded per tender once the
provider took the refund. It sums to :attr:`Payment.balance`.

Cash on delivery: the order's COD tender is asked for at placing; the courier's
delivered scan collects it (``CodCollected``, once per waybill, flagged when the cash
differs from what the parcel should bring; an order shipped in several parcels has
its tender collected in parts, one per waybill, until they reach it); the courier's
remittance file settles it later (``CodRemitted``: matched, short_paid or over_paid
against what was collected), or says the waybill is missing from a file that should
hold it (``CodRemittanceMissing``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
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
from oms_events.domain.order import COLLECTED_ON_HANDOVER, TENDER_METHODS, PaymentMethod


class RefundStatus(StrEnum):
    """Where a refund is: asked of the provider, taken, or refused."""

    REQUESTED = "requested"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass
class Tender:
    """One way the customer paid: what it captured, and what refunds hold of it."""

    reference: str  # our reference of the trade (out_trade_no)
    method: str  # from TENDER_METHODS: alipay, wechat_pay, card, cash, cod...
    captured: Money
    refunded: Money  # requested or succeeded; a failed refund gives its share back
    provider_reference: str = ""  # the provider's id of the trade

    @property
    def refundable(self) -> Money:
        """Captured and not yet held by a refund."""
        return self.captured - self.refunded


@dataclass(frozen=True)
class LedgerEntry:
    """One money movement, signed: positive in, negative back out."""

    tender: str
    kind: str  # "capture" | "refund"
    amount: Money
    reference: str  # provider trade id (capture) or refund id (refund)


class CodOutcome(StrEnum):
    """A COD waybill in the courier's remittance file, against the cash collected."""

    MATCHED = "matched"
    SHORT_PAID = "short_paid"
    OVER_PAID = "over_paid"


def cod_outcome(collected: Money, remitted: Money) -> CodOutcome:
    """What the courier's file says of a waybill whose cash we recorded as ``collected``."""
    if remitted == collected:
        return CodOutcome.MATCHED
    return CodOutcome.SHORT_PAID if remitted < collected else CodOutcome.OVER_PAID


@dataclass
class CodCollection:
    """Cash a courier collected at the door on one waybill, and what its remittance
    file said of it."""

    tracking_no: str
    carrier: str
    reference: str  # the COD tender it was collected on
    amount: Money  # collected
    expected: Money  # what the parcel should bring (all the COD tenders asked, for one)
    collected_at: datetime | None
    remitted: Money | None = None  # the courier's collected amount in its file
    fee: Money | None = None
    remitted_on: str = ""  # ISO date the courier paid us
    outcome: CodOutcome | None = None
    missing_in: set[str] = field(default_factory=set)  # remittance files without it

    @property
    def variance(self) -> Money:
        """Collected minus asked: negative when the door was short."""
        return self.amount - self.expected


COD_PAYMENT_PREFIX = "cod:"


def cod_payment_id(carrier: str, tracking_no: str) -> str:
    """The payment id the order records for cash collected on a waybill: one per
    waybill, so the order counts it once, and recognisably not a channel's payment."""
    return f"{COD_PAYMENT_PREFIX}{carrier}:{tracking_no}"


@dataclass
class Refund:
    """One refund of the order, split over its tenders."""

    refund_id: str
    reason: str
    parts: dict[str, Money]  # tender reference -> amount
    status: RefundStatus = RefundStatus.REQUESTED

    @property
    def amount(self) -> Money:
        """The refund's total."""
        currency = next(iter(self.parts.values())).currency
        return Money.sum(self.parts.values(), currency)


def refund_keys(refund: Refund) -> dict[str, str]:
    """Tender -> the provider's idempotency key for its share (the refund id itself
    when the refund has one share)."""
    tenders = sorted(refund.parts)
    if len(tenders) == 1:
        return {tenders[0]: refund.refund_id}
    return {t: f"{refund.refund_id}-{n}" for n, t in enumerate(tenders, 1)}


class Payment(Aggregate):
    """The money of one order: its tenders, its refunds, its ledger."""

    # 2: withdrawn tenders (voided), their trades closed (trades_closed), cash on
    # delivery per waybill (cod). Older snapshots are upcast when restored.
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A version 1 snapshot predates withdrawn tenders and COD waybills."""
        state.setdefault("voided", {})
        state.setdefault("trades_closed", set())
        state.setdefault("cod", {})

    @staticmethod
    def create_id(order_id: UUID) -> UUID:
        """The payment id: one per order."""
        return natural_id("payment", order_id)

    @classmethod
    def request(
        cls,
        order_id: UUID,
        method: PaymentMethod,
        amount: Money,
        reference: str,
        order_no: str = "",
        channel: str = "",
    ) -> Payment:
        """Open the order's payment by asking for its first tender (``PaymentRequested``):
        ``amount`` by ``method`` under ``reference`` (the provider's out_trade_no)."""
        if amount.amount <= 0:
            raise PaymentAmountInvalid(action="request", amount=str(amount), limit="> 0")
        if not reference.strip():
            raise InvalidOrder(detail="payment reference is empty")
        return cls(
            order_id=order_id,
            reference=reference,
            method=PaymentMethod(method).value,
            amount=amount.to_dict(),
            order_no=order_no,
            channel=channel,
        )

    @event("PaymentRequested")
    def __init__(
        self,
        order_id: UUID,
        reference: str,
        method: str,
        amount: dict[str, Any],
        order_no: str = "",
        channel: str = "",
    ) -> None:
        money = Money.from_dict(amount)
        self.order_id = order_id
        self.order_no = order_no
        self.channel = channel
        self.currency = money.currency
        self.requested: dict[str, tuple[str, Money]] = {
            reference: (PaymentMethod(method).value, money)
        }
        self.authorizations: dict[str, str] = {}  # tender reference -> provider authorization
        self.tenders: dict[str, Tender] = {}
        self.refunds: dict[str, Refund] = {}
        self.ledger: list[LedgerEntry] = []
        self.voided: dict[str, tuple[str, Money]] = {}  # withdrawn tenders, as asked
        self.trades_closed: set[str] = set()  # withdrawn trades closed at their providers
        self.cod: dict[str, CodCollection] = {}  # waybill -> cash collected on it

    # --- derived -----------------------------------------------------------------

    @property
    def captured(self) -> Money:
        """Everything captured, over all tenders."""
        return Money.sum((t.captured for t in self.tenders.values()), self.currency)

    @property
    def refunded(self) -> Money:
        """Refunds the providers took."""
        return Money.sum(
            (r.amount for r in self.refunds.values() if r.status is RefundStatus.SUCCEEDED),
            self.currency,
        )

    @property
    def refundable(self) -> Money:
        """What refunds may still take (captured minus every refund not failed)."""
        return Money.sum((t.refundable for t in self.tenders.values()), self.currency)

    @property
    def balance(self) -> Money:
        """The customer's money we hold: captured minus refunded."""
        return self.captured - self.refunded

    # --- money in ------------------------------------------------------------------

    def request_more(self, reference: str, method: str, amount: Money) -> None:
        """Ask the customer for ``amount`` more under a new tender (``TenderRequested``);
        the same reference again asks nothing more."""
        if reference in self.requested or reference in self.tenders:
            return
        self.check_positive("request", amount)
        self._tender_requested(
            reference=reference, method=_tender_method(method), amount=amount.to_dict()
        )

    @event("TenderRequested")
    def _tender_requested(self, reference: str, method: str, amount: dict[str, Any]) -> None:
        self.requested[reference] = (method, Money.from_dict(amount))

    def authorize(self, reference: str, amount: Money, authorization: str) -> None:
        """The provider authorized a requested tender (``PaymentAuthorized``), e.g. a
        card hold before capture; not for cash."""
        method, asked = self._requested_tender("authorize", reference)
        if method in COLLECTED_ON_HANDOVER or method == "cash":
            raise PaymentMethodMismatch(action="authorize", method=method)
        self.check_positive("authorize", amount)
        if amount > asked:
            raise PaymentAmountInvalid(action="authorize", amount=str(amount), limit=str(asked))
        self._authorized(amount=amount.to_dict(), authorization=authorization, reference=reference)

    @event("PaymentAuthorized")
    def _authorized(self, amount: dict[str, Any], authorization: str, reference: str = "") -> None:
        self.authorizations[reference] = authorization

    def capture(
        self, reference: str, method: str, amount: Money, provider_reference: str = ""
    ) -> None:
        """Money taken on a tender (``PaymentCaptured``); a tender is captured once, so a
        repeated notification or command has no second effect."""
        if reference in self.tenders:
            return
        if not reference.strip():
            raise InvalidOrder(detail="tender reference is empty")
        self.check_positive("capture", amount)
        # A trade we asked for (or withdrew: the customer paid before it closed, the money
        # is ours to give back) is paid in full or not at all: another amount is refused.
        asked = self.requested.get(reference) or self.voided.get(reference)
        if asked is not None and amount != asked[1]:
            raise PaymentAmountInvalid(
                action=f"capture tender {reference}", amount=str(amount), limit=str(asked[1])
            )
        self._captured(
            amount=amount.to_dict(),
            reference=reference,
            method=_tender_method(method),
            provider_reference=provider_reference,
        )

    @event("PaymentCaptured")
    def _captured(
        self,
        amount: dict[str, Any],
        reference: str = "",
        method: str = "",
        provider_reference: str = "",
    ) -> None:
        money = Money.from_dict(amount)
        asked = self.requested.pop(reference, None) or self.voided.pop(reference, None)
        kind = method or (asked[0] if asked else "card")
        self.tenders[reference] = Tender(
            reference, kind, money, Money.zero(money.currency), provider_reference
        )
        self.ledger.append(LedgerEntry(reference, "capture", money, provider_reference))

    def collect_cod(
        self,
        tracking_no: str,
        carrier: str,
        amount: Money,
        collected_at: datetime | None,
        expected: Money | None = None,
    ) -> None:
        """The courier collected ``amount`` in cash at the door on waybill
        ``tracking_no`` (``CodCollected``), towards the COD tenders still asked for.

        ``expected`` is what this parcel should collect (its lines' price), for an order
        shipped in several parcels: the tenders are then collected in parts, one per
        waybill, and stay asked for until the parts reach them. None: this waybill
        collects everything still asked for and settles the tenders, whatever the cash
        (a single parcel). A parcel expected to collect all that is still asked for
        settles them too, so a short door never leaves a tender waiting for a parcel
        that will not come.

        A waybill is collected once: the same waybill again has no second effect. An
        amount other than the parcel's is recorded as collected (it is the cash the
        courier holds) and flagged by its :attr:`CodCollection.variance`.
        """
        if tracking_no in self.cod:
            return
        if not tracking_no.strip():
            raise InvalidOrder(detail="waybill (tracking_no) is empty")
        self.check_positive("collect", amount)
        if expected is not None:
            self.check_positive("expect", expected)
        # The COD tenders still asked for; none, those withdrawn (the order was cancelled
        # and the parcel delivered all the same: the cash is real, and owed back).
        asked = _handover(self.requested) or _handover(self.voided)
        if not asked:
            raise InvalidTransition(
                entity="payment", action="collect cash for", status="awaiting no cash on delivery"
            )
        open_refs = sorted(asked)
        remaining = self.cod_remaining(asked)
        parcel = remaining if expected is None else expected
        self._cod_collected(
            amount=amount.to_dict(),
            reference=open_refs[0],
            carrier=carrier,
            tracking_no=tracking_no,
            collected_at=collected_at,
            expected=parcel.to_dict(),
            covers=open_refs[1:],
            order_id=str(self.order_id),
            order_no=self.order_no,
            settles=parcel >= remaining or amount >= remaining,
        )

    def cod_remaining(self, asked: Mapping[str, Money] | None = None) -> Money:
        """What the COD tenders still asked for (``asked``: reference -> amount; by
        default those open) lack: their amounts minus the parts collected on them."""
        if asked is None:
            asked = _handover(self.requested) or _handover(self.voided)
        parts = (self.tenders[r].captured for r in asked if r in self.tenders)
        return Money.sum(asked.values(), self.currency) - Money.sum(parts, self.currency)

    @event("CodCollected")
    def _cod_collected(
        self,
        amount: dict[str, Any],
        reference: str = "",
        carrier: str = "",
        tracking_no: str = "",
        collected_at: datetime | None = None,
        expected: dict[str, Any] | None = None,
        covers: list[str] | None = None,
        order_id: str = "",  # for readers of the event alone (exceptions)
        order_no: str = "",
        settles: bool = True,  # records of earlier versions settled what they collected on
    ) -> None:
        money = Money.from_dict(amount)
        asked = self.requested.get(reference) or self.voided.get(reference)
        if settles:
            for settled in (reference, *(covers or ())):
                self.requested.pop(settled, None)
                self.voided.pop(settled, None)
        tender = self.tenders.get(reference)
        if tender is None:
            self.tenders[reference] = Tender(reference, "cod", money, Money.zero(money.currency))
        else:  # another parcel's part of the same tender
            tender.captured = tender.captured + money
        self.ledger.append(LedgerEntry(reference, "capture", money, tracking_no))
        if tracking_no:  # records of earlier versions name no waybill
            self.cod[tracking_no] = CodCollection(
                tracking_no,
                carrier,
                reference,
                money,
                Money.from_dict(expected) if expected else (asked[1] if asked else money),
                collected_at,
            )

    def remit_cod(
        self, tracking_no: str, batch: str, remitted: Money, fee: Money, remitted_on: str
    ) -> None:
        """The courier's remittance file ``batch`` lists the waybill (``CodRemitted``),
        matched against the cash collected; a waybill is remitted once."""
        collection = self._collection(tracking_no)
        if collection.outcome is not None:
            return
        if remitted.currency != self.currency or remitted.amount < 0:
            raise PaymentAmountInvalid(action="remit", amount=str(remitted), limit=">= 0")
        if fee.currency != self.currency or fee.amount < 0:
            raise PaymentAmountInvalid(action="charge a fee of", amount=str(fee), limit=">= 0")
        self._cod_remitted(
            tracking_no=tracking_no,
            batch=batch,
            amount=remitted.to_dict(),
            fee=fee.to_dict(),
            remitted_on=remitted_on,
            outcome=cod_outcome(collection.amount, remitted).value,
            order_id=str(self.order_id),
            order_no=self.order_no,
        )

    @event("CodRemitted")
    def _cod_remitted(
        self,
        tracking_no: str,
        batch: str,
        amount: dict[str, Any],
        fee: dict[str, Any],
        remitted_on: str,
        outcome: str,
        order_id: str,  # for readers of the event alone (exceptions)
        order_no: str,
    ) -> None:
        collection = self.cod[tracking_no]
        collection.remitted = Money.from_dict(amount)
        collection.fee = Money.from_dict(fee)
        collection.remitted_on = remitted_on
        collection.outcome = CodOutcome(outcome)

    def cod_missing(self, tracking_no: str, batch: str) -> None:
        """The courier's remittance file ``batch`` should list the waybill and does not
        (``CodRemittanceMissing``); nothing once it is remitted, once per file."""
        collection = self._collection(tracking_no)
        if collection.outcome is not None or batch in collection.missing_in:
            return
        self._cod_missing(
            tracking_no=tracking_no,
            batch=batch,
            order_id=str(self.order_id),
            order_no=self.order_no,
        )

    @event("CodRemittanceMissing")
    def _cod_missing(self, tracking_no: str, batch: str, order_id: str, order_no: str) -> None:
        self.cod[tracking_no].missing_in.add(batch)

    def _collection(self, tracking_no: str) -> CodCollection:
        found = self.cod.get(tracking_no)
        if found is None:
            raise InvalidTransition(
                entity="waybill", action="reconcile", status="not collected by us"
            )
        return found

    def void(self, reference: str, reason: str) -> None:
        """Withdraw a requested tender before any money was taken (``PaymentVoided``);
        a COD tender collected in part withdraws what its other parcels would bring."""
        if reference in self.tenders and reference not in self.requested:
            raise InvalidTransition(entity="payment", action="void", status="captured")
        if reference not in self.requested:
            return
        if not reason or not reason.strip():
            raise ReasonRequired()
        self._voided(reason=reason, reference=reference)

    @event("PaymentVoided")
    def _voided(self, reason: str, reference: str = "") -> None:
        asked = self.requested.pop(reference, None)
        if asked is not None:
            self.voided[reference] = asked

    def trade_closed(self, reference: str) -> None:
        """The provider closed the trade of a withdrawn tender (``TradeClosed``): it can
        no longer be paid; once only."""
        if reference not in self.voided or reference in self.trades_closed:
            return
        self._trade_closed(reference=reference)

    @event("TradeClosed")
    def _trade_closed(self, reference: str) -> None:
        self.trades_closed.add(reference)

    def void_open(self, reason: str) -> list[str]:
        """Withdraw every tender still asked for (the order was cancelled or rejected):
        the references voided now, whose trades must be closed at their providers."""
        found = sorted(self.requested)
        for reference in found:
            self.void(reference, reason)
        return found

    # --- money out -----------------------------------------------------------------

    def split(self, amount: Money) -> dict[str, Money]:
        """How ``amount`` goes back: over the tenders in proportion to what each still
        holds, so a split tender (WeChat Pay + cash) is refunded in its own proportion.

        Each share is at most its tender's refundable (largest remainders never round a
        share above its exact value's ceiling, which is within the tender).
        """
        self.check_positive("refund", amount)
        open_tenders = [t for t in self.tenders.values() if t.refundable.amount > 0]
        if amount > self.refundable or not open_tenders:
            raise PaymentAmountInvalid(
                action="refund", amount=str(amount), limit=str(self.refundable)
            )
        shares = amount.allocate([t.refundable.amount for t in open_tenders])
        return {t.reference: s for t, s in zip(open_tenders, shares, strict=True) if s.amount}

    def request_refund(self, refund_id: str, amount: Money, reason: str) -> None:
        """Give ``amount`` back to the original tenders (``RefundRequested``); the
        provider is asked after this is recorded. A repeated refund id is ignored."""
        if refund_id in self.refunds:
            return
        if not refund_id.strip():
            raise InvalidOrder(detail="refund id is empty")
        if not reason or not reason.strip():
            raise ReasonRequired()
        parts = self.split(amount)
        self._refund_requested(
            refund_id=refund_id,
            reason=reason,
            parts=[{"tender": t, "amount": m.to_dict()} for t, m in parts.items()],
        )

    def refund_tender(self, refund_id: str, reference: str, reason: str) -> None:
        """Give back everything one tender still holds to that tender alone
        (``RefundRequested``): money that arrived on a trade the order had withdrawn.
        A repeated refund id is ignored."""
        if refund_id in self.refunds:
            return
        tender = self.tenders.get(reference)
        if tender is None or tender.refundable.amount <= 0:
            raise PaymentAmountInvalid(action=f"refund tender {reference}", amount="all", limit="0")
        self._refund_requested(
            refund_id=refund_id,
            reason=reason,
            parts=[{"tender": reference, "amount": tender.refundable.to_dict()}],
        )

    @event("RefundRequested")
    def _refund_requested(self, refund_id: str, reason: str, parts: list[dict[str, Any]]) -> None:
        shares = {p["tender"]: Money.from_dict(p["amount"]) for p in parts}
        for tender, share in shares.items():
            self.tenders[tender].refunded = self.tenders[tender].refunded + share
        self.refunds[refund_id] = Refund(refund_id, reason, shares)

    def refund_succeeded(self, refund_id: str, provider_refs: Mapping[str, str]) -> None:
        """The providers took the refund (``PaymentRefunded``); once only."""
        refund = self._pending(refund_id)
        if refund is None:
            return
        self._refunded(
            refund_id=refund_id,
            amount=refund.amount.to_dict(),
            reason=refund.reason,
            provider_refs=[
                {"tender": t, "provider_refund_id": provider_refs.get(t, "")} for t in refund.parts
            ],
        )

    @event("PaymentRefunded")
    def _refunded(
        self,
        refund_id: str,
        amount: dict[str, Any],
        reason: str,
        provider_refs: list[dict[str, Any]] | None = None,
    ) -> None:
        refund = self.refunds[refund_id]
        refund.status = RefundStatus.SUCCEEDED
        refs = {r["tender"]: r["provider_refund_id"] for r in provider_refs or ()}
        for tender, share in refund.parts.items():
            self.ledger.append(LedgerEntry(tender, "refund", -share, refs.get(tender, refund_id)))

    def refund_failed(self, refund_id: str, failure: str) -> None:
        """A provider refused the refund (``RefundFailed``): its shares are refundable
        again; a new refund (a new id) may be tried."""
        refund = self._pending(refund_id)
        if refund is None:
            return
        self._refund_failed(refund_id=refund_id, failure=failure)

    @event("RefundFailed")
    def _refund_failed(self, refund_id: str, failure: str) -> None:
        refund = self.refunds[refund_id]
        refund.status = RefundStatus.FAILED
        for tender, share in refund.parts.items():
            self.tenders[tender].refunded = self.tenders[tender].refunded - share

    def refund_of(self, tender: str, key: str) -> Refund | None:
        """The refund whose share of ``tender`` the provider knows by ``key`` (its
        idempotency key, as a notification names it); None when no refund has it."""
        for refund in self.refunds.values():
            if refund_keys(refund).get(tender) == key:
                return refund
        return None

    # --- rules ---------------------------------------------------------------------

    def check_positive(self, action: str, amount: Money) -> None:
        """Raise PaymentAmountInvalid unless ``amount`` is above zero in the order's currency."""
        if amount.currency != self.currency or amount.amount <= 0:
            raise PaymentAmountInvalid(action=action, amount=str(amount), limit="> 0")

    def _requested_tender(self, action: str, reference: str) -> tuple[str, Money]:
        found = self.requested.get(reference)
        if found is None:
            raise InvalidTransition(entity="payment", action=action, status="not requested")
        return found

    def _pending(self, refund_id: str) -> Refund | None:
        # The refund still waiting for its provider; None once it has an outcome.
        refund = self.refunds.get(refund_id)
        if refund is None:
            raise InvalidOrder(detail=f"no refund {refund_id}")
        return refund if refund.status is RefundStatus.REQUESTED else None


def provider_of(method: str) -> str:
    """The gateway a tender of ``method`` is refunded through ("" = none: by hand)."""
    return {"alipay": "alipay", "wechat_pay": "wechatpay"}.get(method, "")


def _handover(tenders: Mapping[str, tuple[str, Money]]) -> dict[str, Money]:
    # The tenders among ``tenders`` collected when the goods are handed over (COD).
    return {r: m for r, (method, m) in tenders.items() if method in COLLECTED_ON_HANDOVER}


def _tender_method(method: str) -> str:
    # The tender vocabulary of the order (TENDER_METHODS), as a plain string.
    value = str(method)
    if value not in TENDER_METHODS:
        raise InvalidOrder(detail=f"unknown tender method {value[:30]!r}")
    return value


def ledger_total(entries: Sequence[LedgerEntry], currency: str) -> Money:
    """The ledger's sum: what the payment holds."""
    return Money.sum((e.amount for e in entries), currency)
