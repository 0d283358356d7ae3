"""An order line: what was bought, at what price, with which discounts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from oms_events.domain.errors import InvalidOrder, InvalidQuantity
from oms_events.domain.money import Money


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One line of an order.

    ``discount`` is the total discount on the line (all units), and
    ``promotions`` the codes of the promotions that gave it, so analysts and
    returns can see why the price was what it was.
    """

    line_no: int
    sku: str
    quantity: int
    unit_price: Money
    discount: Money
    promotions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.line_no, int) or self.line_no <= 0:
            raise InvalidOrder(detail=f"line number {self.line_no!r} is not positive")
        if not self.sku.strip():
            raise InvalidOrder(detail=f"line {self.line_no} has no sku")
        InvalidQuantity.check(self.quantity)
        if self.unit_price.is_negative:
            raise InvalidOrder(detail=f"line {self.line_no} has a negative price")
        if self.discount.is_negative or self.discount > self.gross:
            raise InvalidOrder(detail=f"line {self.line_no} discount is not within 0..gross")

    @property
    def currency(self) -> str:
        """The line's currency."""
        return self.unit_price.currency

    @property
    def gross(self) -> Money:
        """Unit price times quantity, before discount."""
        return self.unit_price * self.quantity

    @property
    def net(self) -> Money:
        """What the customer pays for the line."""
        # One Money instead of two: __post_init__ checked both are in one currency, and
        # order totals sum this for every line many times per order.
        return Money(self.unit_price.amount * self.quantity - self.discount.amount, self.currency)

    def with_quantity(self, quantity: int, discount: Money | None = None) -> OrderLine:
        """The same line for another quantity.

        Without a new ``discount`` the old one is prorated per unit, so a
        "10% off" line stays 10% off; the channel may send the exact figure.
        """
        InvalidQuantity.check(quantity)
        if discount is None:
            # Floor, so the customer is never given more discount than promised.
            discount = Money(self.discount.amount * quantity // self.quantity, self.currency)
        return replace(self, quantity=quantity, discount=discount)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OrderLine:
        """Build from the event form."""
        return cls(
            line_no=data["line_no"],
            sku=data["sku"],
            quantity=data["quantity"],
            unit_price=Money.from_dict(data["unit_price"]),
            discount=Money.from_dict(data["discount"]),
            promotions=tuple(data.get("promotions") or ()),
        )

    def to_dict(self) -> dict[str, Any]:
        """The event form: plain ints, strs, lists and dicts."""
        return {
            "line_no": self.line_no,
            "sku": self.sku,
            "quantity": self.quantity,
            "unit_price": self.unit_price.to_dict(),
            "discount": self.discount.to_dict(),
            "promotions": list(self.promotions),
        }
