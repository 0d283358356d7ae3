"""Order review (审单) by rules: what an operator would check before an order goes to a
warehouse, as data an operator can change without touching code.

Review runs when an order is otherwise ready to allocate: every line reserved and the
order paid (or cash on delivery). The stock is held while a person looks, so nobody
else sells it meanwhile, and nothing reaches a warehouse before review passes — as in
聚水潭 / 旺店通, where 审单 comes before 配货. Payment and stock are rules too, but they
make the order *wait* (the workflow already waits for them); the other rules *hold* it
with the failed rules as reasons, into the exception queue.

Trusted customers (phone or account) and channels skip the judgement rules (address,
risk): their orders are approved as soon as stock and money are there.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from oms_events.domain.errors import InvalidWorkflow
from oms_events.domain.money import Money
from oms_events.domain.order import Order

# Rule codes, the reasons an order waits or is held with.
PAYMENT = "payment.unpaid"
STOCK = "stock.unallocated"
ADDRESS = "address.incomplete"
RISK_AMOUNT = "risk.amount"
RISK_PHONE = "risk.phone"
# The prefix of a hold reason written by review: the queue and the CLI read it back.
REVIEW_PREFIX = "review: "
# Countries whose addresses need province, city and district (省/市/区) to be delivered.
_FULL_ADDRESS = frozenset({"CN"})


@dataclass(frozen=True, slots=True)
class ReviewRules:
    """The review rules.

    enabled: review at all (off: orders allocate as soon as the workflow confirms).
    amount_above: an order whose total is above this is held (risk.amount).
    blocked_phones: phones whose orders are held (risk.phone).
    trusted_customers: phones or accounts approved without the judgement rules.
    trusted_channels: channels approved without the judgement rules.
    """

    enabled: bool = False
    amount_above: Money | None = None
    blocked_phones: frozenset[str] = field(default_factory=frozenset)
    trusted_customers: frozenset[str] = field(default_factory=frozenset)
    trusted_channels: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReviewRules:
        """Load from plain data (settings, JSON)::

            {"enabled": true, "amount_above": {"amount": 500000, "currency": "CNY"},
             "blocked_phones": ["13900000000"], "trusted_customers": ["vip-1"],
             "trusted_channels": ["pos"]}

        Unknown keys are an error: a misspelt rule must not be silently ignored.
        """
        known = {
            "enabled",
            "amount_above",
            "blocked_phones",
            "trusted_customers",
            "trusted_channels",
        }
        unknown = set(data) - known
        if unknown:
            raise InvalidWorkflow(detail=f"unknown review keys {sorted(unknown)}")
        try:
            amount = data.get("amount_above")
            return cls(
                enabled=bool(data.get("enabled", False)),
                amount_above=Money.from_dict(amount) if amount is not None else None,
                blocked_phones=_names(data, "blocked_phones"),
                trusted_customers=_names(data, "trusted_customers"),
                trusted_channels=_names(data, "trusted_channels"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidWorkflow(detail=f"review: {error}") from error

    def trusted(self, order: Order) -> bool:
        """True for an order of a trusted customer or channel (the auto-approve list)."""
        return order.channel in self.trusted_channels or bool(
            order.customer.identities() & self.trusted_customers
        )

    def failures(self, order: Order, reserving: Collection[int] = ()) -> list[str]:
        """Every rule ``order`` fails, in a fixed order (waits first, then holds).

        ``reserving`` are lines an answer reserves now, not yet recorded on the order.
        """
        failed: list[str] = []
        if not (order.is_paid or order.is_cod):
            failed.append(PAYMENT)
        if any(n not in order.reservations and n not in reserving for n in order.lines):
            failed.append(STOCK)
        if self.trusted(order):
            return failed
        if not address_complete(order):
            failed.append(ADDRESS)
        if self.amount_above is not None and order.total > self.amount_above:
            failed.append(RISK_AMOUNT)
        if order.customer.phone and order.customer.phone in self.blocked_phones:
            failed.append(RISK_PHONE)
        return failed

    def holds(self, order: Order, reserving: Collection[int] = ()) -> list[str]:
        """The rules that put ``order`` into the exception queue: the failures that are
        not a wait for money or stock; empty when review is off or the order passes."""
        if not self.enabled:
            return []
        return [r for r in self.failures(order, reserving) if r not in (PAYMENT, STOCK)]


def address_complete(order: Order) -> bool:
    """True when the parcel can be addressed: a phone for the courier, and province,
    city and district where the country needs them."""
    a = order.address
    if not order.customer.phone:
        return False
    if a.country in _FULL_ADDRESS:
        return all(v and v.strip() for v in (a.province, a.city, a.district))
    return True


def hold_reason(rules: Iterable[str]) -> str:
    """The hold reason naming the failed rules, e.g. ``review: risk.amount, risk.phone``."""
    return REVIEW_PREFIX + ", ".join(rules)


def _names(data: Mapping[str, Any], key: str) -> frozenset[str]:
    values = data.get(key) or ()
    if isinstance(values, str):
        raise InvalidWorkflow(detail=f"review {key} must be a list")
    return frozenset(str(v) for v in values)
