"""The Return aggregate (RMA): goods coming back, inspected, and the money refunded.

requested ─> approved ─> shipped ─> received ─> inspected ─> refunded
    │            │  (parcel)  └─────────┘ (dropped off)  └──> closed (an exchange:
    │            └──> refunded (refund only, 仅退款: no parcel)       the replacement
    ├──> rejected (by the rules or an operator)                      order ships)
    └──> cancelled (requested or approved: withdrawn)

The order prices the refund (its lines' nets, discounts prorated) and tells the
return the amount, so a customer never gets back more than they paid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from oms_events.domain.errors import (
    InvalidCarrier,
    InvalidOrder,
    InvalidQuantity,
    InvalidTransition,
    ReasonRequired,
    ReturnQuantityInvalid,
    UnknownLine,
)
from oms_events.domain.ids import natural_id
from oms_events.domain.money import Money


class ReturnStatus(StrEnum):
    """Where a return is."""

    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    SHIPPED = "shipped"  # the customer's parcel is on its way back
    RECEIVED = "received"
    INSPECTED = "inspected"
    REFUNDED = "refunded"
    CLOSED = "closed"  # an exchange: nothing refunded, the replacement ships
    CANCELLED = "cancelled"


# Statuses after which the return asks nothing more of the order.
CLOSED_STATUSES = frozenset(
    {ReturnStatus.REJECTED, ReturnStatus.REFUNDED, ReturnStatus.CLOSED, ReturnStatus.CANCELLED}
)


class Inspection(StrEnum):
    """What the warehouse found in a returned line."""

    RESELLABLE = "resellable"  # restocked: available for sale again
    DAMAGED = "damaged"  # written off: never sold again


@dataclass(frozen=True, slots=True)
class ReturnLine:
    """Units of one order line coming back, with what the customer paid for the whole line."""

    line_no: int
    sku: str
    quantity: int
    ordered_quantity: int
    unit_price: Money
    discount: Money
    location: str  # where returned goods are restocked

    def __post_init__(self) -> None:
        InvalidQuantity.check(self.quantity)
        InvalidQuantity.check(self.ordered_quantity)
        if self.quantity > self.ordered_quantity:
            raise ReturnQuantityInvalid(
                line_no=self.line_no, quantity=self.quantity, limit=self.ordered_quantity
            )
        if self.unit_price.currency != self.discount.currency:
            raise InvalidOrder(detail=f"return line {self.line_no} mixes currencies")

    @property
    def net(self) -> Money:
        """What the customer paid for the whole order line."""
        return self.unit_price * self.ordered_quantity - self.discount

    def refund_for(self, units: int) -> Money:
        """The refund for ``units`` of this line, its discount prorated."""
        return self.net.prorate(units, self.ordered_quantity)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReturnLine:
        """Build from the event form."""
        return cls(
            line_no=data["line_no"],
            sku=data["sku"],
            quantity=data["quantity"],
            ordered_quantity=data["ordered_quantity"],
            unit_price=Money.from_dict(data["unit_price"]),
            discount=Money.from_dict(data["discount"]),
            location=data["location"],
        )

    def to_dict(self) -> dict[str, Any]:
        """The event form."""
        return {
            "line_no": self.line_no,
            "sku": self.sku,
            "quantity": self.quantity,
            "ordered_quantity": self.ordered_quantity,
            "unit_price": self.unit_price.to_dict(),
            "discount": self.discount.to_dict(),
            "location": self.location,
        }


class Return(Aggregate):
    """A customer return (RMA) for one order; see the module docstring for its life."""

    @staticmethod
    def create_id(order_id: UUID, return_no: str) -> UUID:
        """The return id: one per order and return number."""
        return natural_id("return", order_id, return_no)

    @classmethod
    def request(
        cls,
        order_id: UUID,
        return_no: str,
        lines: Sequence[ReturnLine],
        reason: str,
        *,
        refund_only: bool = False,
        channel: str | None = None,
        exchange_order_id: UUID | None = None,
        exchange_lines: Mapping[str, int] | None = None,
    ) -> Return:
        """Open a return (``ReturnRequested``).

        ``refund_only`` (仅退款): money back without a parcel. ``exchange_order_id``
        names the replacement order placed for ``exchange_lines`` (sku -> units); an
        exchange refunds nothing.
        """
        if not return_no.strip():
            raise InvalidOrder(detail="return number is empty")
        if not reason or not reason.strip():
            raise ReasonRequired()
        if not lines:
            raise InvalidOrder(detail="a return needs at least one line")
        line_nos = [line.line_no for line in lines]
        if len(set(line_nos)) != len(line_nos):
            raise InvalidOrder(detail=f"duplicate return lines {sorted(line_nos)}")
        currency = lines[0].unit_price.currency
        if any(line.unit_price.currency != currency for line in lines):
            raise InvalidOrder(detail="return lines must share one currency")
        exchange = dict(exchange_lines or {})
        if exchange and refund_only:
            raise InvalidOrder(detail="an exchange needs the goods back; it cannot be refund-only")
        if bool(exchange) != (exchange_order_id is not None):
            raise InvalidOrder(detail="an exchange names its replacement order and its lines")
        for quantity in exchange.values():
            InvalidQuantity.check(quantity)
        return cls(
            order_id=order_id,
            return_no=return_no,
            lines=[line.to_dict() for line in lines],
            reason=reason,
            currency=currency,
            refund_only=refund_only,
            channel=channel,
            exchange_order_id=exchange_order_id,
            exchange_lines=[{"sku": s, "quantity": q} for s, q in sorted(exchange.items())],
        )

    @event("ReturnRequested")
    def __init__(
        self,
        order_id: UUID,
        return_no: str,
        lines: list[dict[str, Any]],
        reason: str,
        currency: str,
        refund_only: bool = False,
        channel: str | None = None,
        exchange_order_id: UUID | None = None,
        exchange_lines: list[dict[str, Any]] | None = None,
    ) -> None:
        self.order_id = order_id
        self.return_no = return_no
        self.lines = {d["line_no"]: ReturnLine.from_dict(d) for d in lines}
        self.reason = reason
        self.currency = currency
        self.refund_only = refund_only
        self.channel = channel
        self.exchange_order_id = exchange_order_id
        self.exchange_lines = {d["sku"]: d["quantity"] for d in exchange_lines or ()}
        self.status = ReturnStatus.REQUESTED
        self.parcel: tuple[str, str] | None = None  # (carrier, tracking no)
        self.location: str | None = None  # where the goods were received
        self.received: dict[int, int] = {}
        self.inspected: dict[int, str] = {}  # line no -> Inspection value
        self.refunded: Money | None = None

    # --- derived state ----------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """True until the return asks nothing more (refunded, closed, rejected...)."""
        return self.status not in CLOSED_STATUSES

    @property
    def is_exchange(self) -> bool:
        """True when a replacement order takes the place of a refund."""
        return self.exchange_order_id is not None

    @property
    def worth(self) -> Money:
        """What the requested units were paid, discounts prorated: the most a refund
        of this return can be."""
        return Money.sum(
            (line.refund_for(line.quantity) for line in self.lines.values()), self.currency
        )

    @property
    def refund_limit(self) -> Money:
        """The most the order can price this return's units at: each line's net times
        units over ordered units, rounded up (the order prices a line's last units at
        the remainder of its net, which may be a minor unit above ``worth``)."""
        amounts = (
            -((-line.net.amount * line.quantity) // line.ordered_quantity)
            for line in self.lines.values()
        )
        return Money(sum(amounts), self.currency)

    def refund_units(self) -> dict[int, int]:
        """Line no -> units to refund now: the requested ones for a refund-only return,
        else those received; nothing for an exchange."""
        if self.is_exchange:
            return {}
        if self.refund_only:
            return {n: line.quantity for n, line in self.lines.items()}
        return {n: q for n, q in self.received.items() if q}

    def check_status(self, action: str, *allowed: ReturnStatus) -> None:
        """Raise InvalidTransition unless the return is in one of ``allowed``."""
        if self.status not in allowed:
            raise InvalidTransition(entity="return", action=action, status=self.status.value)

    def _check_quantities(self, quantities: Mapping[int, int], limits: Mapping[int, int]) -> None:
        for line_no, quantity in quantities.items():
            if line_no not in limits:
                raise UnknownLine(line_no=line_no)
            if not isinstance(quantity, int) or quantity < 0 or quantity > limits[line_no]:
                raise ReturnQuantityInvalid(
                    line_no=line_no, quantity=quantity, limit=limits[line_no]
                )

    # --- review -----------------------------------------------------------------

    def approve(self, by: str, parcel_due_at: datetime | None) -> None:
        """Accept the return (``ReturnApproved``): by ``rules`` or an operator's name;
        the parcel is expected by ``parcel_due_at`` (None for refund-only)."""
        self.check_status("approve", ReturnStatus.REQUESTED)
        self._approved(by=by, parcel_due_at=None if self.refund_only else parcel_due_at)

    @event("ReturnApproved")
    def _approved(self, by: str, parcel_due_at: datetime | None) -> None:
        self.status = ReturnStatus.APPROVED

    def reject(self, by: str, reason: str) -> None:
        """Refuse the return (``ReturnRejected``): by ``rules`` or an operator."""
        self.check_status("reject", ReturnStatus.REQUESTED)
        if not reason or not reason.strip():
            raise ReasonRequired()
        self._rejected(by=by, reason=reason)

    @event("ReturnRejected")
    def _rejected(self, by: str, reason: str) -> None:
        self.status = ReturnStatus.REJECTED

    # --- the parcel -------------------------------------------------------------

    def ship(self, carrier: str, tracking_no: str) -> None:
        """The customer sent the goods (``ReturnShipped``); the same waybill again is
        ignored. The carrier adapter's waybill index reads this event."""
        if not carrier.strip() or not tracking_no.strip():
            raise InvalidCarrier()
        if self.parcel == (carrier, tracking_no):
            return
        self.check_status("ship", ReturnStatus.APPROVED)
        if self.refund_only:
            raise InvalidTransition(entity="return", action="ship", status="refund_only")
        self._shipped(carrier=carrier, tracking_no=tracking_no)

    @event("ReturnShipped")
    def _shipped(self, carrier: str, tracking_no: str) -> None:
        self.parcel = (carrier, tracking_no)
        self.status = ReturnStatus.SHIPPED

    def record_scan(
        self,
        carrier: str,
        tracking_no: str,
        status: str,
        occurred_at: datetime,
        location: str | None,
        reason: str | None,
    ) -> None:
        """A carrier's scan of the return's parcel (``ReturnParcelScanned``); it moves
        nothing: the goods count as back only when the warehouse receives them."""
        if self.parcel is None:
            raise InvalidTransition(entity="return", action="scan", status=self.status.value)
        self._scanned(
            carrier=carrier,
            tracking_no=tracking_no,
            status=status,
            occurred_at=occurred_at,
            location=location,
            reason=reason,
        )

    @event("ReturnParcelScanned")
    def _scanned(
        self,
        carrier: str,
        tracking_no: str,
        status: str,
        occurred_at: datetime,
        location: str | None,
        reason: str | None,
    ) -> None:
        """Recorded for tracking; the return's state does not change."""

    # --- the goods back -----------------------------------------------------------

    def receive(self, location: str, quantities: Mapping[int, int] | None = None) -> None:
        """The goods arrived at ``location`` (``ReturnReceived``); default: all requested.

        A line may come back short (0 received); only what arrived is refunded.
        """
        self.check_status("receive", ReturnStatus.APPROVED, ReturnStatus.SHIPPED)
        if self.refund_only:
            raise InvalidTransition(entity="return", action="receive", status="refund_only")
        if not location.strip():
            raise InvalidOrder(detail="location is empty")
        requested = {n: line.quantity for n, line in self.lines.items()}
        received = dict(requested if quantities is None else quantities)
        self._check_quantities(received, requested)
        self._received(
            lines=[{"line_no": n, "quantity": q} for n, q in received.items()], location=location
        )

    @event("ReturnReceived")
    def _received(self, lines: list[dict[str, Any]], location: str | None = None) -> None:
        self.received = {d["line_no"]: d["quantity"] for d in lines}
        self.location = location
        self.status = ReturnStatus.RECEIVED

    def inspect(self, outcomes: Mapping[int, tuple[Inspection, str | None]]) -> None:
        """Judge every received line: resellable units are restocked
        (``ReturnRestocked``), damaged ones written off (``ReturnWrittenOff``, a reason
        required). The restocked lines name sku, location and units, so the engine
        puts them back on sale."""
        self.check_status("inspect", ReturnStatus.RECEIVED)
        arrived = {n for n, q in self.received.items() if q}
        for line_no in outcomes:
            if line_no not in self.lines:
                raise UnknownLine(line_no=line_no)
        missing = sorted(arrived - set(outcomes))
        if missing:
            raise InvalidOrder(detail=f"lines {missing} are not inspected")
        restock: list[dict[str, Any]] = []
        write_off: list[dict[str, Any]] = []
        for line_no, (outcome, reason) in sorted(outcomes.items()):
            if line_no not in arrived:
                continue  # nothing arrived of it: nothing to judge
            part = {
                "line_no": line_no,
                "sku": self.lines[line_no].sku,
                "location": self.location or "",
                "quantity": self.received[line_no],
                "reason": reason or f"return {self.return_no}",
            }
            if Inspection(outcome) is Inspection.DAMAGED:
                if not reason or not reason.strip():
                    raise ReasonRequired()
                write_off.append(part)
            else:
                restock.append(part)
        if restock:
            self._restocked(lines=restock)
        if write_off:
            self._written_off(lines=write_off)

    @event("ReturnRestocked")
    def _restocked(self, lines: list[dict[str, Any]]) -> None:
        for d in lines:
            self.inspected[d["line_no"]] = Inspection.RESELLABLE.value
        self.status = ReturnStatus.INSPECTED

    @event("ReturnWrittenOff")
    def _written_off(self, lines: list[dict[str, Any]]) -> None:
        for d in lines:
            self.inspected[d["line_no"]] = Inspection.DAMAGED.value
        self.status = ReturnStatus.INSPECTED

    # --- money and closing --------------------------------------------------------

    def record_refund(self, amount: Money, lines: Sequence[tuple[int, Money]]) -> None:
        """The order agreed the refund of this return (``ReturnRefunded``): ``amount``
        as the order priced it, never more than the requested units are worth
        (:attr:`refund_limit`)."""
        if self.status is ReturnStatus.REFUNDED:
            return  # the order told us twice
        self.check_status("refund", ReturnStatus.APPROVED, ReturnStatus.INSPECTED)
        if self.status is ReturnStatus.APPROVED and not self.refund_only:
            raise InvalidTransition(entity="return", action="refund", status="not_received")
        limit = self.refund_limit
        if amount.currency != self.currency or amount > limit or amount.is_negative:
            raise ReturnQuantityInvalid(line_no=0, quantity=str(amount), limit=str(limit))
        self._refunded(
            amount=amount.to_dict(),
            lines=[{"line_no": n, "amount": m.to_dict()} for n, m in lines],
        )

    @event("ReturnRefunded")
    def _refunded(self, amount: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        self.refunded = Money.from_dict(amount)
        self.status = ReturnStatus.REFUNDED

    def close(self, outcome: str) -> None:
        """Close a return that refunds nothing (``ReturnClosed``): an exchange inspected,
        or a return whose goods were all missing."""
        self.check_status("close", ReturnStatus.INSPECTED, ReturnStatus.RECEIVED)
        self._closed(outcome=outcome)

    @event("ReturnClosed")
    def _closed(self, outcome: str) -> None:
        self.status = ReturnStatus.CLOSED

    def cancel(self, reason: str) -> None:
        """Withdraw the return before the goods arrive (``ReturnCancelled``)."""
        self.check_status("cancel", ReturnStatus.REQUESTED, ReturnStatus.APPROVED)
        if not reason or not reason.strip():
            raise ReasonRequired()
        self._cancelled(reason=reason)

    @event("ReturnCancelled")
    def _cancelled(self, reason: str) -> None:
        self.status = ReturnStatus.CANCELLED
