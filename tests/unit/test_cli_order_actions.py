"""``oms order hold | release | review | edit | pay``: what the operator types is read
strictly, and what the engine answered is said in zh and en."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from oms_events.cli.order_actions import (
    actor_or_user,
    answer_lines,
    minor,
    parse_add,
    parse_address,
    parse_qty,
    register,
)

# The actions on an app of their own: the main app's callback would set logging up on
# the runner's captured output, which is closed after the test.
app = typer.Typer()
register(app)

CNY = {"amount": 500, "currency": "CNY"}


def test_amounts_are_read_in_the_currency_s_minor_units() -> None:
    assert minor("12.50", "CNY", "--amount") == 1250
    assert minor("1200", "JPY", "--amount") == 1200
    with pytest.raises(typer.BadParameter, match="more than 2 decimals"):
        minor("1.005", "CNY", "--amount")
    with pytest.raises(typer.BadParameter, match="not a number"):
        minor("ten", "CNY", "--amount")


def test_edit_options_are_parsed_or_refused_with_an_example() -> None:
    added = parse_add("SKU:A-1:2:12.50", "CNY")  # a sku may hold a colon
    assert (added.sku, added.quantity, added.unit_price) == ("SKU:A-1", 2, 1250)
    assert parse_qty("3:4").line_no == 3 and parse_qty("3:4").quantity == 4
    address = parse_address("CN|广东省|深圳市|南山区|科技园路1号")
    assert (address.country, address.district, address.line1) == ("CN", "南山区", "科技园路1号")
    for bad, call in (
        ("A1:x:1", lambda v: parse_add(v, "CNY")),
        ("3", parse_qty),
        ("CN|广东省", parse_address),
    ):
        with pytest.raises(typer.BadParameter, match=r"e\.g\."):
            call(bad)


def test_the_actor_is_given_or_the_os_user() -> None:
    assert actor_or_user(" li.si ") == "li.si"
    assert actor_or_user(None)


def test_an_answer_is_said_in_english_and_chinese() -> None:
    answer = [
        ("OperatorActed", {"action": "edit", "actor": "li.si", "reason": ""}),
        ("LineAdded", {"line": {"line_no": 2, "sku": "TEA", "quantity": 1}}),
        ("PaymentDue", {"amount": CNY, "total": {"amount": 2500, "currency": "CNY"}}),
    ]
    assert answer_lines(answer, "CNY", "en") == [
        "edit by li.si",
        "line 2 added: TEA x 1",
        "payment due: 5.00 CNY (new total 25.00 CNY)",
    ]
    assert answer_lines(answer, "CNY", "zh")[2] == "待补款：5.00 CNY（新订单金额 25.00 CNY）"


def test_a_refusal_is_one_line_naming_the_rule() -> None:
    refusal = {
        "code": "order.locked",
        "message_en": "Order is allocated; lines and address can no longer change.",
        "message_zh": "订单状态为 allocated，已无法修改商品行或地址。",
    }
    [en] = answer_lines([("CommandRejected", refusal)], "CNY", "en")
    assert (
        en == "refused (order.locked): Order is allocated; lines and address can no longer change."
    )
    [zh] = answer_lines([("CommandRejected", refusal)], "CNY", "zh")
    assert zh.startswith("被拒绝（order.locked）")


def test_an_empty_answer_says_nothing_changed() -> None:
    assert answer_lines([], "CNY", "en") == ["nothing changed (already done)"]


@pytest.mark.parametrize(
    "command", ["hold", "release", "review", "edit", "pay", "reroute", "queue"]
)
def test_every_action_has_help_with_an_example(command: str) -> None:
    said = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert said.exit_code == 0 and f"Example: oms order {command}" in said.output


def test_review_needs_a_verdict_and_a_reason_to_reject() -> None:
    said = CliRunner().invoke(app, ["review", "SO-1"])
    assert said.exit_code != 0 and "--approve or --reject" in said.output
    said = CliRunner().invoke(app, ["review", "SO-1", "--reject"])
    assert said.exit_code != 0 and "--reason is required" in said.output
