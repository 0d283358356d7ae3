"""``oms refund --line SKU:QTY``: skus resolved against the order's open lines."""

from __future__ import annotations

import pytest

from oms_events.cli.payment import RefundRefused, parse_lines
from oms_events.engine.commands import LineRefund

LINES = [(1, "TEA", 2), (2, "CUP", 1), (3, "MUG", 1), (4, "MUG", 2)]


def test_skus_become_the_lines_that_carry_them() -> None:
    assert parse_lines(["TEA:1", "CUP:1"], LINES) == (
        LineRefund(line_no=1, quantity=1),
        LineRefund(line_no=2, quantity=1),
    )


def test_a_sku_with_a_colon_keeps_it() -> None:
    assert parse_lines(["A:B:2"], [(7, "A:B", 3)]) == (LineRefund(line_no=7, quantity=2),)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("MUG:1", "on lines [3, 4]"),
        ("PEN:1", "not on the order"),
        ("TEA", "write SKU:QTY"),
        ("TEA:0", "write SKU:QTY"),
        ("TEA:x", "write SKU:QTY"),
    ],
)
def test_a_line_the_order_cannot_name_is_refused(spec: str, says: str) -> None:
    with pytest.raises(RefundRefused, match=r".*" + says.replace("[", r"\[").replace("]", r"\]")):
        parse_lines([spec], LINES)
