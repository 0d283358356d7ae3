"""Splitting an order (拆单): by availability with a backorder, and by location."""

from __future__ import annotations

import pytest

from oms_events.domain.backorder import (
    SplitRefused,
    fill_backorder,
    split_by_availability,
    split_by_location,
)
from oms_events.domain.money import Money
from tests.unit.domain.samples import cny, line


def test_what_is_in_stock_ships_and_the_rest_is_backordered() -> None:
    lines = [line(1, "A1", 3, 1000, 100), line(2, "B2", 2, 500)]
    plan = split_by_availability(lines, {"A1": 2, "B2": 5})

    assert [(p.line_no, p.quantity) for p in plan.ship_now] == [(1, 2), (2, 2)]
    assert [(p.line_no, p.quantity) for p in plan.backorder] == [(1, 1)]
    assert plan.cut_lines == {1}
    # The line's discount is shared by units to the fen: 100 over 2 + 1 units.
    assert plan.ship_now[0].discount + plan.backorder[0].discount == cny(100)
    assert plan.ship_now[0].net + plan.backorder[0].net == lines[0].net


def test_lines_of_one_sku_share_its_stock_in_line_order() -> None:
    plan = split_by_availability([line(1, "A1", 2), line(2, "A1", 2)], {"A1": 3})
    assert [(p.line_no, p.quantity) for p in plan.ship_now] == [(1, 2), (2, 1)]
    assert [(p.line_no, p.quantity) for p in plan.backorder] == [(2, 1)]


def test_nothing_or_everything_in_stock_is_no_split() -> None:
    with pytest.raises(SplitRefused, match="nothing is in stock"):
        split_by_availability([line(1, "A1", 2)], {})
    with pytest.raises(SplitRefused, match="ships whole"):
        split_by_availability([line(1, "A1", 2)], {"A1": 2})


def test_a_backorder_ships_as_stock_arrives() -> None:
    plan = split_by_availability([line(1, "A1", 5, 1000, 7)], {"A1": 1})
    ships, waits = fill_backorder(plan.backorder, {"A1": 3})
    assert [p.quantity for p in ships] == [3] and [p.quantity for p in waits] == [1]
    parts = (*plan.ship_now, *ships, *waits)
    assert Money.sum((p.net for p in parts), "CNY") == line(1, "A1", 5, 1000, 7).net


def test_by_location_one_part_per_location() -> None:
    parts = split_by_location(
        [line(1, "A1"), line(2, "B2"), line(3, "C3")], {1: "WH-SH", 2: "WH-BJ", 3: "WH-SH"}
    )
    assert {loc: [p.line_no for p in ps] for loc, ps in parts.items()} == {
        "WH-BJ": [2],
        "WH-SH": [1, 3],
    }
    with pytest.raises(SplitRefused, match="line 2"):
        split_by_location([line(1, "A1"), line(2, "B2")], {1: "WH-SH"})
