"""A warehouse parcel's boxes and carrier from the settings' files, as `oms docs` uses them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from oms_events.documents import render
from oms_events.documents.bins import BinMap
from oms_events.fulfilment.parcels import ParcelRules
from oms_events.settings import Settings
from tests.unit.documents.parcels import parcel

RULES = """
[[boxes]]
id = "S"
length_mm = 200
width_mm = 150
height_mm = 100
max_weight_g = 3000
[[boxes]]
id = "L"
length_mm = 600
width_mm = 400
height_mm = 400
max_weight_g = 20000
[[carriers]]
carrier = "ZTO"
max_weight_g = 5000
[[carriers]]
carrier = "SF"
cod = true
cost = { base = 20.0 }
"""


@pytest.fixture
def rules(tmp_path: Path) -> ParcelRules:
    (tmp_path / "rules.toml").write_text(RULES, encoding="utf-8")
    skus = tmp_path / "skus.csv"
    skus.write_text(
        "sku,length_mm,width_mm,height_mm,weight_g\nTEA,100,80,50,300\nPOT,500,300,300,6000\n",
        encoding="utf-8",
    )
    settings = Settings().replace(fulfilment={"rules": tmp_path / "rules.toml", "skus": skus})
    return ParcelRules.from_settings(settings)


def test_boxes_and_carrier_follow_the_parcels_content(rules: ParcelRules) -> None:
    tea = parcel([("TEA", 2)])
    assert rules.box_text(tea) == "S ×1"
    assert rules.carrier(tea).carrier == "ZTO"  # type: ignore[union-attr]
    heavy = parcel([("TEA", 1), ("POT", 1)])
    facts = rules.facts(heavy)
    assert (facts.weight_g, facts.longest_side_mm) == (6300, 600)
    assert rules.box_text(heavy) == "L ×1"
    assert rules.carrier(heavy).carrier == "SF"  # type: ignore[union-attr]
    assert rules.carrier(parcel([("TEA", 1)], cod=12900)).carrier == "SF"  # type: ignore[union-attr]


def test_without_files_the_warehouse_settings_choose_and_no_box_is_printed() -> None:
    settings = Settings().replace(warehouse={"carriers": {"WH": "YTO"}})
    rules = ParcelRules.from_settings(settings)
    assert rules.box_text(parcel([("TEA", 1)])) is None
    assert rules.carrier(parcel([("TEA", 1)])).carrier == "YTO"  # type: ignore[union-attr]


def test_a_bad_sku_catalogue_names_its_line(tmp_path: Path) -> None:
    skus = tmp_path / "skus.csv"
    skus.write_text("sku,length_mm,width_mm,height_mm,weight_g\nTEA,100,80,x,300\n", "utf-8")
    with pytest.raises(ValueError, match=r"skus.csv line 2: height_mm 'x' is not a whole number"):
        ParcelRules.from_settings(Settings().replace(fulfilment={"skus": skus}))


def test_the_pack_list_prints_the_chosen_box(rules: ParcelRules, tmp_path: Path) -> None:
    tea, plain = parcel([("TEA", 2)]), parcel([("TEA", 1)])
    boxes = {tea.shipment_id: rules.box_text(tea) or ""}
    pdf = tmp_path / "pack.pdf"
    render.pack_lists(pdf, [tea, plain], BinMap(), Settings().warehouse.font, boxes)
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = text.split("\f")
    assert "箱型 Box S ×1" in pages[0] and "箱型" not in pages[1]
