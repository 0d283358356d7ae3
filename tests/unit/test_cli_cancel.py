"""``oms order cancel``: what the operator reads for each answer of the engine, zh and en."""

from __future__ import annotations

from typing import Any

from oms_events.cli.order import outcome_lines

ON_THE_ROAD = [
    {
        "shipment_id": "s-1",
        "location": "SH",
        "status": "shipped",
        "carrier": "SF",
        "tracking_no": "SF100",
    }
]
IN_THE_WAREHOUSE = [
    {
        "shipment_id": "s-2",
        "location": "BJ",
        "status": "picked",
        "carrier": None,
        "tracking_no": None,
    }
]


def _cancelled(releases: int) -> tuple[str, dict[str, Any]]:
    return "OrderCancelled", {"reason": "r", "releases": [{}] * releases}


def test_cancelled_after_allocation_says_released_and_warehouse_told() -> None:
    answer = [_cancelled(1), ("RefundDue", {"amount": {"amount": 12900, "currency": "CNY"}})]
    lines = outcome_lines(answer, IN_THE_WAREHOUSE, "CNY", "en")
    assert lines == [
        "cancelled: 1 reservation(s) released, the units are available again",
        "warehouse BJ told not to ship s-2 (AllocationCancelled)",
        "refund requested: 129.00 CNY",
    ]
    zh = outcome_lines(answer, IN_THE_WAREHOUSE, "CNY", "zh")
    assert zh[0].startswith("已取消") and "BJ" in zh[1] and zh[2] == "已申请退款：129.00 CNY"


def test_cancelled_once_shipped_says_interception_requested() -> None:
    answer = [("CancellationRequested", {"reason": "r", "shipment_ids": ["s-1"]})]
    lines = outcome_lines(answer, ON_THE_ROAD, "CNY", "en")
    assert lines[0] == "interception requested from SF for waybill SF100"
    assert "refused" in lines[1]  # what happens if the carrier delivers first
    assert outcome_lines(answer, ON_THE_ROAD, "CNY", "zh")[0] == "已向 SF 申请拦截运单 SF100"


def test_a_refusal_is_shown_with_its_code_in_the_operators_language() -> None:
    reply = {"code": "order.cancel_too_late", "message_en": "too late", "message_zh": "太晚"}
    answer = [("CommandRejected", reply)]
    assert outcome_lines(answer, [], "CNY", "en") == ["refused (order.cancel_too_late): too late"]
    assert outcome_lines(answer, [], "CNY", "zh") == ["被拒绝（order.cancel_too_late）：太晚"]
