"""Promotions and proration: every discount lands on a line, in minor units."""

from __future__ import annotations

import pytest

from oms_events.intake.errors import Code, Rejection
from oms_events.intake.model import IntakeLine
from oms_events.intake.pricing import (
    AmountOff,
    BuyNGetM,
    PercentOff,
    apply_promotions,
    check_total,
    prorate,
    spread,
)


def line(no: int, sku: str, qty: int, price: int) -> IntakeLine:
    return IntakeLine(line_no=no, sku=sku, quantity=qty, unit_price=price)


def test_prorate_assigns_remainders_to_largest_remainders_then_earlier_lines() -> None:
    assert prorate(100, [1, 1, 1]) == [34, 33, 33]
    assert prorate(3000, [11970, 27200]) == [917, 2083]
    assert prorate(0, [5, 5]) == [0, 0]


def test_spread_keeps_the_sum_and_names_the_promotion() -> None:
    lines = spread([line(1, "A", 1, 999), line(2, "B", 2, 500)], 100, "店铺优惠")
    assert sum(x.discount for x in lines) == 100
    assert all(x.promotions == ("店铺优惠",) for x in lines)


def test_discount_larger_than_the_order_is_a_price_mismatch() -> None:
    with pytest.raises(Rejection) as caught:
        spread([line(1, "A", 1, 100)], 101)
    assert caught.value.code is Code.PRICE_MISMATCH


def test_amount_off_over_threshold_once_and_repeated() -> None:
    lines = [line(1, "A", 2, 12500), line(2, "B", 1, 9800)]  # 348.00
    once = AmountOff("满300减30", 30000, 3000).apply(lines)
    assert sum(x.discount for x in once) == 3000
    every = AmountOff("每满100减10", 10000, 1000, repeat=True).apply(lines)
    assert sum(x.discount for x in every) == 3000
    below = AmountOff("满500减50", 50000, 5000).apply(lines)
    assert sum(x.discount for x in below) == 0


def test_percent_off_rounds_half_up() -> None:
    lines = PercentOff("95折", 5).apply([line(1, "A", 1, 1010)])  # 50.5 fen -> 51
    assert lines[0].discount == 51


def test_buy_two_get_one_frees_the_cheapest_unit_of_each_group() -> None:
    lines = [line(1, "TEA1", 2, 12500), line(2, "TEA2", 1, 9800), line(3, "CUP", 1, 100)]
    out = BuyNGetM("买二送一", 2, 1, frozenset({"TEA1", "TEA2"})).apply(lines)
    assert [x.discount for x in out] == [0, 9800, 0]
    assert out[1].promotions == ("买二送一",)


def test_till_order_items_then_percent_then_threshold() -> None:
    lines = [line(1, "TEA1", 2, 12500), line(2, "TEA2", 1, 9800)]
    out = apply_promotions(
        lines,
        [AmountOff("满200减20", 20000, 2000), PercentOff("9折", 10), BuyNGetM("b2g1", 2, 1)],
    )
    # b2g1 frees 98.00; 9折 on 250.00 is 25.00; 225.00 >= 200 so 20.00 off.
    assert sum(x.discount for x in out) == 9800 + 2500 + 2000
    check_total(out, 0, 34800 - 14300, "paid_total")
