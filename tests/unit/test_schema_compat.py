"""Every schema stays readable by and for its previous released version."""

from __future__ import annotations

import copy

from oms_events.avro.catalog import RELEASED, SCHEMAS_DIR
from oms_events.avro.compat import check, check_released


def test_every_schema_is_compatible_with_its_released_version() -> None:
    results = check_released()
    assert results, f"no released schemas under {SCHEMAS_DIR / RELEASED}"
    assert {path: p for path, p in results.items() if p} == {}


def test_every_current_schema_has_a_released_copy_or_is_new() -> None:
    # A schema without a released copy is allowed (new), but a release must freeze it;
    # here we only check that released copies do not outnumber current files.
    released = list((SCHEMAS_DIR / RELEASED).rglob("*.avsc"))
    for path in released:
        assert (SCHEMAS_DIR / path.relative_to(SCHEMAS_DIR / RELEASED)).exists(), path


def _place_order() -> dict:
    import json

    return json.loads((SCHEMAS_DIR / "order/commands/PlaceOrder.avsc").read_text())


def test_new_field_without_default_is_rejected() -> None:
    old = _place_order()
    new = copy.deepcopy(old)
    new["fields"].append({"name": "gift_wrap", "type": "boolean"})
    problems = check(old, new)
    assert any("gift_wrap" in p for p in problems)


def test_new_field_with_default_is_accepted() -> None:
    old = _place_order()
    new = copy.deepcopy(old)
    new["fields"].append({"name": "gift_wrap", "type": "boolean", "default": False})
    assert check(old, new) == []


def test_removing_a_field_without_default_breaks_old_readers() -> None:
    old = _place_order()
    new = copy.deepcopy(old)
    new["fields"] = [f for f in new["fields"] if f["name"] != "order_no"]
    assert any("old reader" in p for p in check(old, new))


def test_changing_a_type_incompatibly_is_rejected() -> None:
    old = _place_order()
    new = copy.deepcopy(old)
    for f in new["fields"]:
        if f["name"] == "currency":
            f["type"] = "int"
    assert check(old, new)
