"""``oms stock`` refuses a bad argument in one line naming the option and the fix,
before it reaches Kafka or PostgreSQL (both point nowhere here)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from oms_events.cli.stock import LABELS, StockArgumentError, app, delta_of, places, reason_of, whole
from oms_events.domain.inventory import AdjustmentReason

NOWHERE = {
    "OMS_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
    "OMS_POSTGRES_DSN": "postgresql://oms@127.0.0.1:1/oms",
}


@pytest.mark.parametrize(
    ("args", "names", "fix"),
    [
        (["adjust", "TEA", "WH-00", "--delta", "two", "--reason", "damage"], "--delta", "-2"),
        (["adjust", "TEA", "WH-00", "--delta", "0", "--reason", "damage"], "--delta", "-2"),
        (["adjust", "TEA", "WH-00", "--delta", "-2", "--reason", "theft"], "--reason", "loss"),
        (["count", "TEA", "WH-00", "--counted", "-1"], "--counted", "--counted 47"),
        (["count", "TEA", "WH-00", "--counted", "4.5"], "--counted", "--counted 47"),
        (["threshold", "TEA", "WH-00", "--min", "-3"], "--min", "--min 10"),
        (["transfer", "TEA", "--from", "A", "--to", "B", "--qty", "0"], "--qty", "--qty 20"),
        (["transfer", "TEA", "--from", "A", "--to", "A", "--qty", "2"], "--to", "another"),
        (
            ["transfer", "TEA", "--from", "A", "--to", "B", "--qty", "2", "--transfer-id", "x"],
            "--transfer-id",
            "printed",
        ),
        (["transfer-receive", "not-a-uuid"], "TRANSFER_ID", "printed"),
        (["receive", "TEA", "WH-00", "lots"], "QUANTITY", "50"),
        (["suggest", "--days", "0"], "--days", "--days 112"),
    ],
)
def test_a_bad_argument_is_refused_in_one_line_naming_it(
    args: list[str], names: str, fix: str
) -> None:
    # The stock app itself: the main app's callback would set logging up on the
    # runner's stderr, which is closed once it returns.
    result = CliRunner().invoke(app, args, env=NOWHERE)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {names}:"), lines[0]
    assert fix in lines[0]
    assert "127.0.0.1:1" not in result.stderr  # nothing was contacted


def test_numbers_are_read_as_whole_numbers_with_their_bounds() -> None:
    assert whole("--qty", " 12 ", 1) == 12
    assert delta_of("-3") == -3
    with pytest.raises(StockArgumentError, match="--qty: 0 is below 1"):
        whole("--qty", "0", 1)


def test_reasons_are_the_domains_list_in_any_case() -> None:
    assert reason_of("Damage") is AdjustmentReason.DAMAGE
    assert {r.value for r in AdjustmentReason} == {"damage", "loss", "found", "count_correction"}


def test_a_transfer_needs_two_different_places() -> None:
    assert places("WH-00", "WH-01") == ("WH-00", "WH-01")
    with pytest.raises(StockArgumentError, match="--from: is empty"):
        places(" ", "WH-01")


def test_every_label_is_in_chinese_and_english() -> None:
    assert set(LABELS["zh"]) == set(LABELS["en"])
    assert all(LABELS["zh"][k] != LABELS["en"][k] for k in LABELS["en"])
