"""The trade's limits: a quantity or stock level over 10^9 units and an amount over
10^13 minor units are refused with their own codes, before any projection sees them."""

from __future__ import annotations

import pytest

from oms_events.domain import InventoryItem
from oms_events.domain.errors import AmountOverLimit, InvalidQuantity, QuantityOverLimit
from oms_events.domain.limits import MAX_AMOUNT, MAX_UNITS
from oms_events.domain.money import Money


def test_a_quantity_over_the_limit_is_refused_with_its_own_code() -> None:
    assert InvalidQuantity.check(MAX_UNITS) == MAX_UNITS
    with pytest.raises(QuantityOverLimit) as raised:
        InvalidQuantity.check(2**62)
    assert raised.value.code == "quantity.over_limit"
    assert "1000000000" in raised.value.message("en")


def test_a_stock_level_over_the_limit_is_refused_and_nothing_changes() -> None:
    item = InventoryItem.register("TEA", "WH-SH", low_stock_threshold=1)
    item.receive(MAX_UNITS, "opening stock")
    with pytest.raises(QuantityOverLimit):
        item.receive(1, "one more")
    with pytest.raises(QuantityOverLimit):
        item.adjust(1, "found one")
    with pytest.raises(QuantityOverLimit):
        item.count(MAX_UNITS + 1)
    assert item.on_hand == MAX_UNITS


@pytest.mark.parametrize("amount", [MAX_AMOUNT + 1, -MAX_AMOUNT - 1, 2**63])
def test_an_amount_over_the_limit_is_refused(amount: int) -> None:
    Money(MAX_AMOUNT, "CNY")
    with pytest.raises(AmountOverLimit) as raised:
        Money(amount, "CNY")
    assert raised.value.code == "money.over_limit"


def test_arithmetic_past_the_limit_is_refused_too() -> None:
    with pytest.raises(AmountOverLimit):
        Money(MAX_AMOUNT, "CNY") * 2
