"""``oms whatif`` refuses a bad window or rules file in one line naming the option and
the fix, before it reaches Kafka or PostgreSQL (both point nowhere here); the replay
order and clock are the recorded ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from oms_events.cli.whatif import whatif
from oms_events.whatif.fork import Recorded, ReplayClock

# The command alone: the main app's callback would point logging at the runner's
# captured stderr, closed after each invoke.
app = typer.Typer()
app.command()(whatif)

NOWHERE = {
    "OMS_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
    "OMS_POSTGRES_DSN": "postgresql://oms@127.0.0.1:1/oms",
}


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "nearest.toml"
    path.write_text('[sourcing]\nrank_by = ["distance"]\n', encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("window", "names", "fix"),
    [
        (["--from", "last week", "--to", "2026-12-01"], "--from", "2026-11-01"),
        (["--from", "2026-12-01", "--to", "2026-11-01"], "--to", "after --from"),
    ],
)
def test_a_bad_window_is_one_line_naming_the_option(
    rules: Path, window: list[str], names: str, fix: str
) -> None:
    result = CliRunner().invoke(app, ["--rules", str(rules), *window], env=NOWHERE)
    assert result.exit_code == 2
    assert names in result.output and fix in result.output


def test_a_bad_rules_file_is_one_line_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[sourcing]\nrank_by = ["nearest"]\n', encoding="utf-8")
    result = CliRunner().invoke(
        app,
        ["--rules", str(bad), "--from", "2026-11-01", "--to", "2026-12-01"],
        env=NOWHERE,
    )
    assert result.exit_code == 1
    assert "sourcing.rank_by" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_help_has_a_copy_paste_example() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert "oms whatif --rules ops/nearest.toml --from 2026-11-01 --to 2026-12-01" in (
        result.output
    )


def _recorded(at: int, kind: str, offset: int) -> Recorded:
    return Recorded(kind, "X", None, b"", [], at, 0, offset)


def test_replay_order_is_recorded_time_with_supply_first_on_a_tie() -> None:
    records = [
        _recorded(2, "order", 0),
        _recorded(1, "order", 1),
        _recorded(2, "inventory", 9),
        _recorded(1, "inventory", 3),
    ]
    ordered = sorted(records, key=lambda r: r.order)
    assert [(r.timestamp, r.aggregate_type) for r in ordered] == [
        (1, "inventory"),
        (1, "order"),
        (2, "inventory"),
        (2, "order"),
    ]


def test_the_replay_clock_only_moves_forward() -> None:
    clock = ReplayClock(5000)
    clock.set(7000)
    clock.set(6000)
    assert clock() == 7.0
