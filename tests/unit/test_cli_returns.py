"""``oms return``: lines named by sku, verdicts written SKU:resellable|damaged:WHY; a
spec the CLI cannot read is refused in one line naming the option and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from oms_events.cli.returns import ReturnRefused, parse_quantities, parse_verdicts
from oms_events.engine.commands import InspectedLine

RET: dict[str, Any] = {
    "return_no": "RMA-1",
    "lines": [
        {"line_no": 1, "sku": "TEA"},
        {"line_no": 2, "sku": "A:B"},
    ],
}


def test_verdicts_name_the_return_lines_by_sku() -> None:
    assert parse_verdicts(RET, ["TEA:resellable", "A:B:damaged:box: crushed"]) == (
        InspectedLine(line_no=1, outcome="resellable", reason=None),
        InspectedLine(line_no=2, outcome="damaged", reason="box: crushed"),
    )


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("TEA:damaged", "needs a reason"),
        ("TEA:broken", "SKU:resellable or SKU:damaged:REASON"),
        ("CUP:resellable", "not in the return RMA-1"),
    ],
)
def test_a_verdict_the_cli_cannot_read_is_refused(spec: str, says: str) -> None:
    with pytest.raises(ReturnRefused, match=says):
        parse_verdicts(RET, [spec])


def test_quantities_are_sku_colon_units() -> None:
    assert parse_quantities(["TEA:2", "A:B:1"], "--line", "TEA:1") == [("TEA", 2), ("A:B", 1)]
    with pytest.raises(ReturnRefused, match="--exchange 'TEA': write SKU:QTY"):
        parse_quantities(["TEA"], "--exchange", "TEA:1")
