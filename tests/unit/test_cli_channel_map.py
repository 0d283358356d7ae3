"""``oms channel map``: the channel sku -> our sku table operators edit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oms_events.cli.channel import app
from oms_events.intake.errors import Rejection
from oms_events.intake.tables import Tables
from oms_events.settings import get_settings


@pytest.fixture
def sku_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "skus.json"
    monkeypatch.setenv("OMS_INTAKE_SKU_MAP", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def test_a_mapped_code_is_read_by_the_intake_and_the_shipped_codes_stay(sku_map: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(app, ["map", "pdd", "PDD-CUP-9", "SKU-CUP-001"])
    assert added.exit_code == 0, added.output
    tables = Tables.load(get_settings().intake)
    assert tables.sku("pdd", "PDD-CUP-9", "item_list[0].outer_id") == "SKU-CUP-001"
    assert tables.sku("pdd", "CUP01", "item_list[0].outer_id") == "SKU-CUP-001"  # shipped
    listed = runner.invoke(app, ["map", "pdd"])
    assert ["PDD-CUP-9", "SKU-CUP-001"] in [line.split() for line in listed.output.splitlines()]

    removed = runner.invoke(app, ["map", "pdd", "PDD-CUP-9", "--remove"])
    assert removed.exit_code == 0, removed.output
    with pytest.raises(Rejection) as unknown:
        Tables.load(get_settings().intake).sku("pdd", "PDD-CUP-9", "item_list[0].outer_id")
    assert unknown.value.code.value == "intake.unknown_sku"


def test_the_shipped_map_is_not_edited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMS_INTAKE_SKU_MAP", raising=False)
    get_settings.cache_clear()
    try:
        refused = CliRunner().invoke(app, ["map", "pdd", "X", "SKU-1"])
    finally:
        get_settings.cache_clear()
    assert refused.exit_code != 0
    assert "OMS_INTAKE_SKU_MAP" in refused.output
