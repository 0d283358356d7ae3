"""The Return aggregate: goods coming back, restocked, and the money refunded.

requested ──> received ──> restocked ──> refunded
    │             └───────────────────────┘ (damaged goods are refunded, not restocked)
    └──> cancelled

The refund of a line is its net price (after the line's discounts) prorated
by the units received, so a customer never gets back more than they paid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from oms_events.domain.errors import (
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
    RECEIVED = "received"
    RESTOCKED = "restocked"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


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
    """A customer return (RMA) for one order."""

    @staticmethod
    def create_id(order_id: UUID, return_no: str) -> UUID:
        """The return id: one per order and return number."""
        return natural_id("return", order_id, return_no)

    @classmethod
    def request(
        cls, order_id: UUID, return_no: str, lines: Sequence[ReturnLine], reason: str
    ) -> Return:
        """Open a return (``ReturnRequested``)."""
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
        return cls(
            order_id=order_id,
            return_no=return_no,
            lines=[line.to_dict() for line in lines],
            reason=reason,
            currency=currency,
        )

    @event("ReturnRequested")
    def __init__(
        self,
        order_id: UUID,
        return_no: str,
        lines: list[dict[str, Any]],
        reason: str,
        currency: str,
    ) -> None:
        self.order_id = order_id
        self.return_no = return_no
        self.lines = {d["line_no"]: ReturnLine.from_dict(d) for d in lines}
        self.reason = reason
        self.currency = currency
        self.status = ReturnStatus.REQUESTED
        self.received: dict[int, int] = {}
        self.restocked: dict[int, int] = {}
        self.refunded: Money | None = None

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

    @property
    def refund_amount(self) -> Money:
        """The refund owed for what was received."""
        return Money.sum(
            (self.lines[n].refund_for(q) for n, q in self.received.items() if q),
            self.currency,
        )

    def receive(self, quantities: Mapping[int, int] | None = None) -> None:
        """The warehouse received the goods (``ReturnReceived``); default: all requested.

        A line may come back short (0 received); only what arrived is refunded.
        """
        self.check_status("receive", ReturnStatus.REQUESTED)
        requested = {n: line.quantity for n, line in self.lines.items()}
        received = dict(requested if quantities is None else quantities)
        self._check_quantities(received, requested)
        self._received(lines=[{"line_no": n, "quantity": q} for n, q in received.items()])

    @event("ReturnReceived")
    def _received(self, lines: list[dict[str, Any]]) -> None:
        self.received = {d["line_no"]: d["quantity"] for d in lines}
        self.status = ReturnStatus.RECEIVED

    def restock(self, quantities: Mapping[int, int] | None = None) -> None:
        """Put sellable units back into stock (``ReturnRestocked``); default: all received.

        The event names sku, location and units so the saga can call
        ``InventoryItem.restock`` for each line.
        """
        self.check_status("restock", ReturnStatus.RECEIVED)
        restock = dict(self.received if quantities is None else quantities)
        self._check_quantities(restock, self.received)
        lines = [
            {
                "line_no": n,
                "sku": self.lines[n].sku,
                "location": self.lines[n].location,
                "quantity": q,
            }
            for n, q in restock.items()
            if q
        ]
        self._restocked(lines=lines)

    @event("ReturnRestocked")
    def _restocked(self, lines: list[dict[str, Any]]) -> None:
        self.restocked = {d["line_no"]: d["quantity"] for d in lines}
        self.status = ReturnStatus.RESTOCKED

    def refund(self) -> None:
        """Refund what was received, discounts prorated (``ReturnRefunded``)."""
        self.check_status("refund", ReturnStatus.RECEIVED, ReturnStatus.RESTOCKED)
        lines = [
            {"line_no": n, "amount": self.lines[n].refund_for(q).to_dict()}
            for n, q in self.received.items()
            if q
        ]
        self._refunded(amount=self.refund_amount.to_dict(), lines=lines)

    @event("ReturnRefunded")
    def _refunded(self, amount: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        self.refunded = Money.from_dict(amount)
        self.status = ReturnStatus.REFUNDED

    def cancel(self, reason: str) -> None:
        """Withdraw the return before the goods arrive (``ReturnCancelled``)."""
        self.check_status("cancel", ReturnStatus.REQUESTED)
        if not reason or not reason.strip():
            raise ReasonRequired()
        self._cancelled(reason=reason)

    @event("ReturnCancelled")
    def _cancelled(self, reason: str) -> None:
        self.status = ReturnStatus.CANCELLED
