"""``oms report`` refuses a bad definitions file or a bad name in one line (exit 2),
before connecting to anything."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from oms_events.cli.report import app

GOOD = '[[report]]\nname = "s"\nsource = "sales"\nmeasures = ["units"]\n'


def test_a_bad_field_is_one_line_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "reports.toml"
    path.write_text(GOOD.replace('"units"', '"profit"'))
    result = CliRunner().invoke(app, ["list", "--file", str(path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "report 's': measures: 'profit' is not a measure of sales" in lines[0]


def test_a_missing_file_names_the_setting(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["list", "--file", str(tmp_path / "none.toml")])
    assert result.exit_code == 2
    assert "OMS_ANALYTICS_REPORTS_FILE" in result.output


def test_an_unknown_report_or_none_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "reports.toml"
    path.write_text(GOOD)
    unknown = CliRunner().invoke(app, ["run", "nope", "--file", str(path)])
    assert unknown.exit_code == 2
    assert "report 'nope': no such report" in unknown.output
    nothing = CliRunner().invoke(app, ["run", "--file", str(path)])
    assert nothing.exit_code == 2
    assert "oms report run weekly-sales" in nothing.output


def test_the_list_shows_each_report(tmp_path: Path) -> None:
    path = tmp_path / "reports.toml"
    path.write_text(GOOD + 'schedule = "0 8 * * 1"\n')
    result = CliRunner().invoke(app, ["list", "--file", str(path)])
    assert result.exit_code == 0, result.output
    assert "0 8 * * 1" in result.output and "sales" in result.output
