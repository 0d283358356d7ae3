"""``oms rules check``: a good file is summarised, a bad one refused in one line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from oms_events.cli.rules import app


def test_check_summarises_a_good_file_and_names_a_bad_field(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        '[sourcing]\nmax_shipments = 2\n[locations.WH-SH]\nprovince = "上海"\n', "utf-8"
    )
    done = CliRunner().invoke(app, ["check", str(good)])
    assert done.exit_code == 0, done.output
    assert "1 locations" in done.output and "2 shipments per order at most" in done.output
    bad = tmp_path / "bad.toml"
    bad.write_text('[locations.WH-SH]\nprovince = "火星"\n', "utf-8")
    refused = CliRunner().invoke(app, ["check", str(bad)])
    assert refused.exit_code == 1
    assert "locations.WH-SH.province: unknown province '火星'" in refused.output
    assert len(refused.output.strip().splitlines()) == 1
