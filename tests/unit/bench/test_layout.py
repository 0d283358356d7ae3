"""`oms bench --layout`: which engine processes run which processors."""

from __future__ import annotations

import pytest
from bench.e2e.harness import DEFAULT_LAYOUT, parse_layout


def test_the_default_layout_keeps_the_names_earlier_results_use() -> None:
    assert parse_layout("order/inventory,shipment,warehouse") == DEFAULT_LAYOUT


def test_one_process_per_slash_named_after_its_first_processor() -> None:
    assert parse_layout("order/inventory/shipment,warehouse") == {
        "order": ["order"],
        "inventory": ["inventory"],
        "shipment": ["shipment", "warehouse"],
    }


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("order/inventory", "exactly once"),  # shipment and warehouse would never run
        ("order/inventory,shipment,warehouse/order", "two processes named"),
        ("order//inventory,shipment,warehouse", "empty process"),
        ("order/inventory,shipment,warehouse,billing", "unknown processors"),
    ],
)
def test_a_layout_that_cannot_run_the_flow_is_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_layout(text)
