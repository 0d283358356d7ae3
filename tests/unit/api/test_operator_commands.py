"""The operator's order commands, built one way for the CLI and the API."""

from __future__ import annotations

import uuid

import pytest

from oms_events import operator_commands as build
from oms_events.engine.commands import AddedLine, ReturnLineRequest

ORDER = uuid.uuid4()


@pytest.mark.parametrize(
    "make",
    [
        lambda: build.cancel(ORDER, " "),
        lambda: build.hold(ORDER, "", "li.lei"),
        lambda: build.review(ORDER, False, "", "li.lei"),
        lambda: build.refund(ORDER, ""),
    ],
    ids=["cancel", "hold", "reject", "refund"],
)
def test_an_action_that_needs_a_reason_names_the_field(make: object) -> None:
    with pytest.raises(build.ActionRefused) as refused:
        make()  # type: ignore[operator]
    assert refused.value.field == "reason"


def test_approving_needs_no_reason_and_carries_the_actor() -> None:
    command = build.review(ORDER, True, "", "li.lei")
    assert (command.approve, command.actor, command.order_id) == (True, "li.lei", ORDER)


def test_an_edit_with_nothing_to_change_is_refused() -> None:
    with pytest.raises(build.ActionRefused):
        build.edit(ORDER, "li.lei")
    edit = build.edit(ORDER, "li.lei", add=[AddedLine(sku="A", quantity=1, unit_price=100)])
    assert edit.add[0].sku == "A"


def test_a_return_needs_a_known_reason_and_lines() -> None:
    lines = [ReturnLineRequest(line_no=1, quantity=1)]
    with pytest.raises(build.ActionRefused) as unknown:
        build.request_return(ORDER, lines, "whim", {"quality"})
    assert unknown.value.field == "reason"
    with pytest.raises(build.ActionRefused) as empty:
        build.request_return(ORDER, [], "quality", {"quality"})
    assert empty.value.field == "lines"
    made = build.request_return(ORDER, lines, "quality", {"quality"})
    assert made.return_no.startswith("RMA-")


def test_every_command_gets_its_own_id() -> None:
    assert build.hold(ORDER, "x", "a").command_id != build.hold(ORDER, "x", "a").command_id
