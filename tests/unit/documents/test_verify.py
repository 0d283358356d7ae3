"""Scan-to-verify packing: exactly the pack list passes, anything else is refused."""

from __future__ import annotations

from oms_events.documents.verify import Mismatch, check, read_scans

PARCEL = {"SKU-TEA": 2, "SKU-CUP": 1}


def test_the_exact_units_in_any_order_match() -> None:
    assert check(PARCEL, ["SKU-CUP", "SKU-TEA", "SKU-TEA"]) == []


def test_a_wrong_sku_is_refused_in_both_languages() -> None:
    found = check(PARCEL, ["SKU-TEA", "SKU-TEA", "SKU-CUP", "SKU-PEN"])
    assert found == [Mismatch("unknown", "SKU-PEN", 0, 1)]
    assert found[0].message("en") == "SKU-PEN is not in this parcel (1 scanned): take it out"
    assert found[0].message("zh") == "SKU-PEN 不属于此包裹（扫了 1 件），请取出"


def test_a_short_parcel_is_refused_naming_what_is_missing() -> None:
    found = check(PARCEL, ["SKU-TEA", "SKU-CUP"])
    assert found == [Mismatch("short", "SKU-TEA", 2, 1)]
    assert found[0].message("en") == "SKU-TEA: 1 scanned, 2 expected (1 missing)"
    assert found[0].message("zh") == "SKU-TEA 少 1 件：应 2 件，扫了 1 件"


def test_one_unit_too_many_is_refused() -> None:
    found = check(PARCEL, ["SKU-TEA"] * 3 + ["SKU-CUP"])
    assert found == [Mismatch("over", "SKU-TEA", 2, 3)]
    assert "1 too many" in found[0].message("en")


def test_every_mismatch_is_reported_at_once() -> None:
    kinds = [m.kind for m in check(PARCEL, ["SKU-PEN", "SKU-CUP", "SKU-CUP"])]
    assert kinds == ["unknown", "over", "short"]


def test_a_scanner_s_lines_are_read_without_blanks() -> None:
    assert read_scans(["SKU-TEA\n", "\n", "  SKU-CUP \r\n"]) == ["SKU-TEA", "SKU-CUP"]
