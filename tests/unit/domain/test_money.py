"""Money: exact integer arithmetic in one currency, and proration that never loses a fen."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oms_events.domain import Money
from oms_events.domain.errors import CurrencyMismatch, InvalidMoney


def test_adds_and_subtracts_minor_units() -> None:
    assert Money(1999, "CNY") + Money(1, "CNY") == Money(2000, "CNY")
    assert Money(500, "CNY") - Money(700, "CNY") == Money(-200, "CNY")
    assert Money(250, "CNY") * 3 == Money(750, "CNY") == 3 * Money(250, "CNY")


def test_refuses_to_mix_currencies() -> None:
    with pytest.raises(CurrencyMismatch) as raised:
        Money(1, "CNY") + Money(1, "USD")
    assert raised.value.code == "money.currency_mismatch"
    with pytest.raises(CurrencyMismatch):
        _ = Money(1, "CNY") < Money(2, "USD")


@pytest.mark.parametrize("amount", [1.5, True, "100"])
def test_amount_must_be_an_integer(amount: object) -> None:
    with pytest.raises(InvalidMoney):
        Money(amount, "CNY")  # type: ignore[arg-type]


@pytest.mark.parametrize("currency", ["cny", "CN", "YUAN", ""])
def test_currency_must_be_an_iso_code(currency: str) -> None:
    with pytest.raises(InvalidMoney):
        Money(100, currency)


def test_round_trips_through_its_event_form() -> None:
    money = Money(1234, "CNY")
    assert money.to_dict() == {"amount": 1234, "currency": "CNY"}
    assert Money.from_dict(money.to_dict()) == money


def test_allocate_gives_left_over_fen_to_largest_remainders() -> None:
    assert Money(100, "CNY").allocate([1, 1, 1]) == (
        Money(34, "CNY"),
        Money(33, "CNY"),
        Money(33, "CNY"),
    )
    assert Money(-100, "CNY").allocate([1, 2]) == (Money(-33, "CNY"), Money(-67, "CNY"))


def test_prorate_of_the_whole_is_the_whole_amount() -> None:
    assert Money(2700, "CNY").prorate(3, 3) == Money(2700, "CNY")
    assert Money(1000, "CNY").prorate(1, 3) == Money(333, "CNY")


def test_prorate_rejects_a_part_larger_than_the_whole() -> None:
    with pytest.raises(InvalidMoney):
        Money(1000, "CNY").prorate(4, 3)


@given(
    amount=st.integers(min_value=-(10**12), max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12).filter(
        lambda w: sum(w) > 0
    ),
)
def test_allocate_never_creates_or_loses_money(amount: int, weights: list[int]) -> None:
    parts = Money(amount, "CNY").allocate(weights)
    assert sum(p.amount for p in parts) == amount
    for part, weight in zip(parts, weights, strict=True):
        exact = amount * weight / sum(weights)
        assert abs(part.amount - exact) < 1
