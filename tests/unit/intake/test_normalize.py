"""Cleaning channel values: full-width text, phones, money, quantities."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms_events.intake import normalize as n
from oms_events.intake.errors import Code, Rejection


def test_full_width_digits_letters_and_spaces_become_half_width() -> None:
    assert n.half_width("ＳＯＨＯ　１００号") == "SOHO 100号"
    assert n.text("  延安路　　１００号 ", "f") == "延安路 100号"


def test_emoji_and_cjk_in_names_are_kept() -> None:
    assert n.text("🌸小美🌸", "name") == "🌸小美🌸"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("＋８６ １３９ １２３４ ５６７８", "13912345678"),
        ("8613800138000", "13800138000"),
        ("0086 13800138000", "13800138000"),
        ("０５７１－８８８８６６６６", "057188886666"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phones_are_normalized(raw: str, expected: str) -> None:
    assert n.phone(raw, "phone") == expected


@pytest.mark.parametrize("raw", ["138-0013", "12345678901", "phone", "+0 123"])
def test_bad_phones_are_refused_naming_the_field(raw: str) -> None:
    with pytest.raises(Rejection) as caught:
        n.phone(raw, "receiver_mobile")
    assert caught.value.code is Code.BAD_PHONE
    assert caught.value.field == "receiver_mobile"
    assert "电话" in caught.value.zh


def test_missing_optional_phone_is_none() -> None:
    assert n.phone(None, "phone") is None
    assert n.phone("", "phone") is None


@pytest.mark.parametrize(
    ("raw", "minor"),
    [
        ("12.50", 1250),
        ("12.5", 1250),
        ("１２.５０", 1250),
        ("¥1,234.50", 123450),
        (12, 1200),
        (Decimal("39.9"), 3990),
        ("12.500", 1250),
        ("0", 0),
    ],
)
def test_money_in_minor_units(raw: object, minor: int) -> None:
    assert n.money(raw, "price") == minor


@pytest.mark.parametrize("raw", ["12.505", "abc", "NaN", "Infinity", [1], True, "1e20"])
def test_bad_money_is_refused(raw: object) -> None:
    with pytest.raises(Rejection) as caught:
        n.money(raw, "price")
    assert caught.value.code is Code.BAD_AMOUNT


@pytest.mark.parametrize(("raw", "qty"), [("2", 2), ("２", 2), (3, 3), (Decimal("2.0"), 2)])
def test_quantities(raw: object, qty: int) -> None:
    assert n.quantity(raw, "num") == qty


@pytest.mark.parametrize("raw", [0, "-1", "1.5", "x", True, None])
def test_non_positive_or_odd_quantities_are_refused(raw: object) -> None:
    with pytest.raises(Rejection) as caught:
        n.quantity(raw, "num")
    assert caught.value.code in (Code.BAD_QUANTITY, Code.MISSING_FIELD)


def test_external_id_must_be_safe_in_an_order_number() -> None:
    assert n.external_id(" ２８１２３ ", "orderId") == "28123"
    with pytest.raises(Rejection) as caught:
        n.external_id("a/b", "orderId")
    assert caught.value.code is Code.BAD_EXTERNAL_ID
