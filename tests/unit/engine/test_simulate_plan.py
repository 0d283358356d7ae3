"""`oms simulate`'s plan refuses what it cannot simulate, naming the option to fix."""

from __future__ import annotations

import pytest

from oms_events.engine.simulate import Plan


def test_a_full_life_plan_with_shares_is_accepted() -> None:
    plan = Plan(life="full", cod_rate=0.2, cancel_rate=0.05, intercept_rate=0.02)
    assert plan.life == "full"


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"life": "half"}, "--life 'half'"),
        ({"cancel_rate": 1.5}, "--cancel-rate 1.5"),
        ({"exchange_rate": -0.1}, "--exchange-rate -0.1"),
    ],
)
def test_a_bad_option_is_named(changes: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Plan(**changes)  # type: ignore[arg-type]
