"""The order workflow as data: settings an operator can change without touching code.

``Workflow.decide(order)`` is a pure function of an order's state and these
settings; the order saga asks it what to do next and carries the answer out.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from oms_events.domain.errors import DomainError, InvalidWorkflow
from oms_events.domain.money import Money
from oms_events.domain.order import Order, OrderStatus


class ShortagePolicy(StrEnum):
    """What to do when the inventory refuses a line."""

    REJECT = "reject"
    PREORDER = "preorder"


class Decision(StrEnum):
    """The next step for an order."""

    CONFIRM = "confirm"
    HOLD = "hold"  # amount above the threshold
    REVIEW = "review"  # a person must look (flagged customer, or auto-confirm is off)
    WAIT_FOR_PAYMENT = "wait_for_payment"
    WAIT_FOR_STOCK = "wait_for_stock"
    REJECT = "reject"
    PRE_ORDER = "pre_order"
    NOTHING = "nothing"  # the order is past the point where the workflow decides


@dataclass(frozen=True, slots=True)
class Workflow:
    """How orders go from placed to confirmed.

    auto_confirm: confirm without a person once every line is reserved and
        the order is paid (or cash on delivery).
    hold_above: orders whose total is above this go on hold instead.
    manual_review: customer accounts or phones whose orders a person reviews.
    on_shortage: reject an order the inventory cannot serve, or keep it as a pre-order.
    reservation_ttl: seconds an unpaid prepaid order may keep its stock.
    """

    auto_confirm: bool = True
    hold_above: Money | None = None
    manual_review: frozenset[str] = field(default_factory=frozenset)
    on_shortage: ShortagePolicy = ShortagePolicy.REJECT
    reservation_ttl: int = 30 * 60

    def __post_init__(self) -> None:
        if not isinstance(self.reservation_ttl, int) or self.reservation_ttl <= 0:
            raise InvalidWorkflow(detail=f"reservation_ttl {self.reservation_ttl!r} must be > 0")
        if self.hold_above is not None and self.hold_above.is_negative:
            raise InvalidWorkflow(detail="hold_above is negative")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Workflow:
        """Load from plain data (settings, JSON)::

            {"auto_confirm": true, "hold_above": {"amount": 500000, "currency": "CNY"},
             "manual_review": ["13800000000"], "on_shortage": "preorder",
             "reservation_ttl": 1800}

        Unknown keys are an error: a misspelt setting must not be silently ignored.
        """
        known = {"auto_confirm", "hold_above", "manual_review", "on_shortage", "reservation_ttl"}
        unknown = set(data) - known
        if unknown:
            raise InvalidWorkflow(detail=f"unknown keys {sorted(unknown)}")
        defaults = cls()
        try:
            hold_above = data.get("hold_above")
            review: Iterable[str] = data.get("manual_review") or ()
            if isinstance(review, str):
                raise InvalidWorkflow(detail="manual_review must be a list")
            return cls(
                auto_confirm=bool(data.get("auto_confirm", defaults.auto_confirm)),
                hold_above=Money.from_dict(hold_above) if hold_above is not None else None,
                manual_review=frozenset(str(v) for v in review),
                on_shortage=ShortagePolicy(data.get("on_shortage", defaults.on_shortage)),
                reservation_ttl=data.get("reservation_ttl", defaults.reservation_ttl),
            )
        except DomainError:
            raise
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidWorkflow(detail=str(error)) from error

    def to_dict(self) -> dict[str, Any]:
        """The plain-data form accepted by ``from_dict``."""
        return {
            "auto_confirm": self.auto_confirm,
            "hold_above": self.hold_above.to_dict() if self.hold_above else None,
            "manual_review": sorted(self.manual_review),
            "on_shortage": self.on_shortage.value,
            "reservation_ttl": self.reservation_ttl,
        }

    def decide(self, order: Order, reserving: Collection[int] = ()) -> Decision:
        """The next step for ``order`` once its reservations have been answered.

        Order of the rules: stock first (nothing else matters without it),
        then the human checks (review, hold) unless an operator already
        released the order, then money, then the auto-confirm switch.
        """
        if order.status not in (OrderStatus.PENDING, OrderStatus.PRE_ORDER):
            return Decision.NOTHING
        # ``reserving``: lines an answer is reserving now, not yet recorded on the order.
        # (A split order's backordered lines wait on their own: the rest goes on.)
        if any(n not in reserving for n in order.unreserved_lines()):
            return Decision.WAIT_FOR_STOCK
        if not order.released_from_hold:
            if order.customer.identities() & self.manual_review:
                return Decision.REVIEW
            if self.hold_above is not None and order.total > self.hold_above:
                return Decision.HOLD
        if not (order.is_paid or order.is_cod):
            return Decision.WAIT_FOR_PAYMENT
        if not self.auto_confirm and not order.released_from_hold:
            return Decision.REVIEW
        return Decision.CONFIRM

    def decide_shortage(self, order: Order) -> Decision:
        """What to do when the inventory rejected a reservation for ``order``."""
        if order.status is OrderStatus.PRE_ORDER:
            return Decision.WAIT_FOR_STOCK
        if order.status not in (OrderStatus.PENDING, OrderStatus.ON_HOLD):
            return Decision.NOTHING
        if self.on_shortage is ShortagePolicy.PREORDER:
            return Decision.PRE_ORDER
        return Decision.REJECT

    def reservation_expired(self, order: Order, now: datetime) -> bool:
        """True when an unpaid prepaid order has held stock longer than ``reservation_ttl``.

        Cash-on-delivery orders never expire: they are paid at the door.
        """
        if order.is_cod or order.is_paid:
            return False
        if order.status not in (OrderStatus.PENDING, OrderStatus.PRE_ORDER, OrderStatus.ON_HOLD):
            return False
        return now - order.placed_at > timedelta(seconds=self.reservation_ttl)
