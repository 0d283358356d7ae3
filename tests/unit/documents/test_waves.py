"""Pick waves: the path through the bins, slots per parcel, bins."""

from __future__ import annotations

from pathlib import Path

import pytest

from oms_events.documents.bins import BinMap, derived_bin
from oms_events.documents.waves import pick_rows
from tests.unit.documents.parcels import parcel


def test_the_pick_list_walks_the_bins_in_order_and_sums_each_sku_over_the_slots() -> None:
    bins = BinMap({("WH", "TEA"): "A03-01-1", ("WH", "CUP"): "A01-07-2", ("WH", "PEN"): "A02-01-1"})
    first = parcel(lines=[("TEA", 2), ("CUP", 1)])
    second = parcel(lines=[("PEN", 1), ("TEA", 1)])
    rows = pick_rows([first, second], bins)
    assert [(r.bin, r.sku, r.quantity, r.slots) for r in rows] == [
        ("A01-07-2", "CUP", 1, ((1, 1),)),
        ("A02-01-1", "PEN", 1, ((2, 1),)),
        ("A03-01-1", "TEA", 3, ((1, 2), (2, 1))),
    ]


def test_an_unslotted_sku_gets_the_same_derived_bin_every_time() -> None:
    assert derived_bin("SKU-TEA-001") == derived_bin("SKU-TEA-001")
    assert BinMap().bin("WH", "SKU-TEA-001") == derived_bin("SKU-TEA-001")
    assert all(b.startswith("A") and len(b) == 8 for b in map(derived_bin, ["A", "B", "茶"]))


def test_bins_are_read_from_a_csv_and_a_bad_row_names_its_line(tmp_path: Path) -> None:
    good = tmp_path / "bins.csv"
    good.write_text("location,sku,bin\nWH,TEA,B01-02-3\n", encoding="utf-8")
    assert BinMap.load(good).bin("WH", "TEA") == "B01-02-3"
    bad = tmp_path / "bad.csv"
    bad.write_text("location,sku,bin\nWH,TEA,\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.csv:2: location, sku and bin are required"):
        BinMap.load(bad)
