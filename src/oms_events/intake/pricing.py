"""Discounts at intake: promotions on list prices, and proration to lines in minor units.

Every discount ends up on a line (``IntakeLine.discount``) so that a later partial
refund of one line can give back exactly that line's share. Proration uses the
largest-remainder method: shares are floors of the exact proportion, and the
leftover minor units go to the largest remainders, ties to the earlier line, so the
shares always add up to the order discount and the same order always splits the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from oms_events.domain.money import decimal_text
from oms_events.intake.errors import Code, Rejection
from oms_events.intake.model import IntakeLine


def prorate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` minor units in proportion to ``weights`` (largest remainder).

    >>> prorate(100, [1, 1, 1])
    [34, 33, 33]
    """
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("prorate needs a non-negative total and weights")
    base = sum(weights)
    if total == 0:
        return [0] * len(weights)
    if base == 0:
        raise ValueError(f"cannot spread {total} over lines worth nothing")
    shares = [total * w // base for w in weights]
    remainders = [total * w % base for w in weights]
    leftover = total - sum(shares)
    # Sort by remainder descending, then by position: deterministic tie-break.
    for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:leftover]:
        shares[i] += 1
    return shares


def spread(
    lines: Sequence[IntakeLine], discount: int, label: str | None = None
) -> list[IntakeLine]:
    """Add an order-level ``discount`` to ``lines`` in proportion to their net amounts."""
    if discount == 0:
        return list(lines)
    nets = [line.net for line in lines]
    if discount > sum(nets):
        raise Rejection(
            Code.PRICE_MISMATCH,
            "discount",
            f"order discount {discount} exceeds the order's line amounts {sum(nets)}",
            f"订单优惠 {discount} 超过商品金额 {sum(nets)}",
        )
    out = []
    for line, share in zip(lines, prorate(discount, nets), strict=True):
        promos = line.promotions + ((label,) if label and share else ())
        out.append(replace(line, discount=line.discount + share, promotions=promos))
    return out


SELLER_ADJUSTMENT = "卖家改价"
ROUNDING = "抹零"


def adjust(line: IntakeLine, amount: int, label: str = SELLER_ADJUSTMENT) -> IntakeLine:
    """The line after the seller changed what it costs by ``amount`` minor units.

    A cut is more discount. A rise first takes back discount; beyond the list price it
    raises the unit price to the smallest that covers the new amount, and the few minor
    units over it are discount, so the line's net is exactly what the seller asked and
    no discount is negative.
    """
    if amount == 0:
        return line
    target = line.net + amount
    if target < 0:
        raise Rejection(
            Code.PRICE_MISMATCH,
            "adjust_fee",
            f"the seller's adjustment {amount} takes the line below zero",
            f"卖家改价 {amount} 使商品金额小于零",
        )
    unit_price = max(line.unit_price, -(-target // line.quantity))  # ceiling division
    discount = unit_price * line.quantity - target
    return replace(
        line,
        unit_price=unit_price,
        discount=discount,
        promotions=(*line.promotions, label) if label not in line.promotions else line.promotions,
    )


def adjust_order(
    lines: Sequence[IntakeLine], amount: int, label: str = SELLER_ADJUSTMENT
) -> list[IntakeLine]:
    """An order-level adjustment shared by the lines in proportion to their nets
    (to their list amounts when every net is zero)."""
    if amount == 0:
        return list(lines)
    if amount < 0:
        return spread(lines, -amount, label)
    weights = [line.net for line in lines]
    if not any(weights):
        weights = (
            [line.gross for line in lines]
            if any(line.gross for line in lines)
            else [1] * len(lines)
        )
    return [
        adjust(line, share, label)
        for line, share in zip(lines, prorate(amount, weights), strict=True)
    ]


@dataclass(frozen=True)
class AmountOff:
    """满减: ``off`` minor units when the order reaches ``threshold`` (every threshold
    reached, if ``repeat``: 每满300减30)."""

    label: str
    threshold: int
    off: int
    repeat: bool = False

    def apply(self, lines: Sequence[IntakeLine]) -> list[IntakeLine]:
        """Lines with this promotion's discount spread over them."""
        net = sum(line.net for line in lines)
        if net < self.threshold or self.threshold <= 0:
            return list(lines)
        times = net // self.threshold if self.repeat else 1
        return spread(lines, min(self.off * times, net), self.label)


@dataclass(frozen=True)
class PercentOff:
    """打折: ``percent`` off the order (9折 is ``percent=10``), rounded half up to a minor unit."""

    label: str
    percent: int

    def apply(self, lines: Sequence[IntakeLine]) -> list[IntakeLine]:
        """Lines with this promotion's discount spread over them."""
        net = sum(line.net for line in lines)
        discount = (net * self.percent * 2 + 100) // 200  # half up, integers only
        return spread(lines, min(discount, net), self.label)


@dataclass(frozen=True)
class BuyNGetM:
    """买N送M: among eligible units, priciest first, every group of N+M units has its M
    cheapest units free. The free units' price is the discount of the lines they belong to."""

    label: str
    n: int
    m: int
    skus: frozenset[str] = frozenset()

    def apply(self, lines: Sequence[IntakeLine]) -> list[IntakeLine]:
        """Lines with the free units' price as extra discount."""
        units = [
            (line.unit_price, index)
            for index, line in enumerate(lines)
            if not self.skus or line.sku in self.skus
            for _ in range(line.quantity)
        ]
        units.sort(key=lambda u: (-u[0], u[1]))
        free: dict[int, int] = {}
        group = self.n + self.m
        for start in range(0, len(units) - group + 1, group):
            for price, index in units[start + self.n : start + group]:
                free[index] = free.get(index, 0) + price
        out = list(lines)
        for index, amount in free.items():
            line = out[index]
            amount = min(amount, line.net)  # never below zero after earlier discounts
            out[index] = replace(
                line, discount=line.discount + amount, promotions=(*line.promotions, self.label)
            )
        return out


Promotion = AmountOff | PercentOff | BuyNGetM


def promotion_from(code: str, spec: Mapping[str, Any]) -> Promotion:
    """Build a promotion from its table entry (see ``promotions.json``)."""
    label = str(spec.get("label", code))
    kind = spec["kind"]
    if kind == "amount_off":
        return AmountOff(label, int(spec["threshold"]), int(spec["off"]), bool(spec.get("repeat")))
    if kind == "percent_off":
        return PercentOff(label, int(spec["percent"]))
    if kind == "buy_n_get_m":
        return BuyNGetM(label, int(spec["n"]), int(spec["m"]), frozenset(spec.get("skus", ())))
    raise ValueError(f"unknown promotion kind {kind!r} for {code}")


# Item promotions first, then percentages, then amount-off thresholds on what is left:
# the order in which tills apply them, so our total matches the receipt.
_ORDER = {BuyNGetM: 0, PercentOff: 1, AmountOff: 2}


def apply_promotions(
    lines: Sequence[IntakeLine], promotions: Sequence[Promotion]
) -> list[IntakeLine]:
    """Apply ``promotions`` to list-priced ``lines`` in till order."""
    out = list(lines)
    for promotion in sorted(promotions, key=lambda p: _ORDER[type(p)]):
        out = promotion.apply(out)
    return out


def check_total(
    lines: Sequence[IntakeLine], shipping_fee: int, stated: int, field: str, currency: str = "CNY"
) -> None:
    """Refuse an order whose lines do not add up to the total the channel states."""
    ours = sum(line.net for line in lines) + shipping_fee
    if ours != stated:
        mine, theirs = decimal_text(ours, currency), decimal_text(stated, currency)
        raise Rejection(
            Code.PRICE_MISMATCH,
            field,
            f"lines add up to {mine} but the channel states {theirs}",
            f"商品明细合计 {mine} 与渠道金额 {theirs} 不符",
        )
