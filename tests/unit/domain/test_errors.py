"""Domain errors carry a stable code and a message in English and Chinese."""

from __future__ import annotations

import inspect

import pytest

from oms_events.domain import errors
from oms_events.domain.errors import DomainError, InsufficientStock, InvalidQuantity

ERROR_CLASSES = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, DomainError) and cls is not DomainError
]


def test_insufficient_stock_speaks_both_languages() -> None:
    error = InsufficientStock(sku="SKU-1", location="WH-SH", requested=3, available=1)
    assert error.code == "stock.insufficient"
    assert error.message("en") == (
        "Insufficient stock of SKU-1 at WH-SH: requested 3, available 1."
    )
    assert error.message("zh") == "WH-SH 的 SKU-1 库存不足：需要 3，可用 1。"
    assert str(error).startswith("stock.insufficient: ")


def test_a_missing_context_value_still_gives_the_template() -> None:
    assert "{sku}" in InsufficientStock().message("en")


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_error_has_its_own_code_and_both_messages(cls: type[DomainError]) -> None:
    assert cls.code != DomainError.code
    assert "message_en" in vars(cls) and "message_zh" in vars(cls)
    assert cls.message_en != cls.message_zh


def test_codes_are_unique() -> None:
    codes = [cls.code for cls in ERROR_CLASSES]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize("quantity", [0, -1, 1.0, True, "2"])
def test_quantity_check_accepts_only_positive_ints(quantity: object) -> None:
    with pytest.raises(InvalidQuantity):
        InvalidQuantity.check(quantity)
    assert InvalidQuantity.check(3) == 3
