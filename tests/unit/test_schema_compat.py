"""`oms schemas check`: every schema stays FULL compatible with its released copy,
by Apache Avro's own resolution rules."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from oms_events.avro.catalog import RELEASED, SCHEMAS_DIR
from oms_events.avro.evolution import BACKWARD, FORWARD, check

WAREHOUSE_UPDATE = Path("warehouse/WarehouseUpdate.avsc")
PLACE_ORDER = Path("order/commands/PlaceOrder.avsc")


def _oms(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oms_events.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=60,
    )


def _field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def _remove_enum_symbol(s: dict[str, Any]) -> None:
    _field(s, "status")["type"]["symbols"].remove("packed")


def _remove_union_branch(s: dict[str, Any]) -> None:
    _field(s, "carrier")["type"] = "null"  # ["null", "string"] loses "string"


def _add_field_without_default(s: dict[str, Any]) -> None:
    s["fields"].append({"name": "dock", "type": "string"})


def _narrow_long_to_int(s: dict[str, Any]) -> None:
    _field(s, "at")["type"] = "int"


def _released_copy(tmp_path: Path) -> Path:
    root = tmp_path / "schemas"
    shutil.copytree(SCHEMAS_DIR, root)
    return root


def _edit(root: Path, rel: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = root / rel
    schema = json.loads(path.read_text())
    change(schema)
    path.write_text(json.dumps(schema))


def test_check_passes_on_the_project_schemas() -> None:
    out = _oms("schemas", "check")
    assert out.returncode == 0, out.stderr
    assert "all FULL compatible" in out.stdout


@pytest.mark.parametrize(
    ("change", "field", "kind"),
    [
        (_remove_enum_symbol, "status", "missing_enum_symbols"),
        (_remove_union_branch, "carrier", "writer type: string"),
        (_add_field_without_default, "dock", "reader_field_missing_default_value"),
        (_narrow_long_to_int, "at", "type_mismatch"),
    ],
)
def test_check_fails_naming_schema_and_field(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], field: str, kind: str
) -> None:
    root = _released_copy(tmp_path)
    _edit(root, WAREHOUSE_UPDATE, change)
    out = _oms("schemas", "check", "--schemas", str(root))
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert lines, out.stderr
    assert all(line.startswith("error: oms.warehouse.WarehouseUpdate field ") for line in lines)
    assert any(f"field {field}:" in line and kind in line for line in lines), out.stderr


def test_enum_symbol_removed_breaks_the_new_reader_of_old_records() -> None:
    old = json.loads((SCHEMAS_DIR / WAREHOUSE_UPDATE).read_text())
    new = json.loads(json.dumps(old))
    _remove_enum_symbol(new)
    [problem] = check(old, new)
    assert (problem.field, problem.problem) == ("status", BACKWARD)
    assert "packed" in problem.detail


def test_field_removed_without_default_breaks_the_released_reader() -> None:
    old = json.loads((SCHEMAS_DIR / WAREHOUSE_UPDATE).read_text())
    new = json.loads(json.dumps(old))
    new["fields"] = [f for f in new["fields"] if f["name"] != "location"]
    assert [(p.field, p.problem) for p in check(old, new)] == [("location", FORWARD)]


def test_new_field_with_default_and_new_enum_symbol_with_default_are_compatible() -> None:
    old = json.loads((SCHEMAS_DIR / RELEASED / PLACE_ORDER).read_text())
    new = json.loads((SCHEMAS_DIR / PLACE_ORDER).read_text())
    assert new != old  # the project's own change since release: shipping_fee, next_day
    assert check(old, new) == []


def test_nested_field_is_named_by_its_path() -> None:
    old = json.loads((SCHEMAS_DIR / PLACE_ORDER).read_text())
    new = json.loads(json.dumps(old))
    line = _field(new, "lines")["type"]["items"]
    _field(line, "quantity")["type"] = "string"
    problems = check(old, new)
    assert {p.field for p in problems} == {"lines.quantity"}


def test_deleted_schema_fails_and_release_refuses_while_check_fails(tmp_path: Path) -> None:
    root = _released_copy(tmp_path)
    (root / WAREHOUSE_UPDATE).unlink()
    out = _oms("schemas", "release", "--schemas", str(root))
    assert out.returncode == 1
    assert "oms.warehouse.WarehouseUpdate: was released and its file is gone" in out.stderr
    assert (root / RELEASED / WAREHOUSE_UPDATE).exists()


def test_release_freezes_the_current_set(tmp_path: Path) -> None:
    root = _released_copy(tmp_path)
    out = _oms("schemas", "release", "--schemas", str(root))
    assert out.returncode == 0, out.stderr
    current = sorted(p.relative_to(root) for p in root.rglob("*.avsc") if RELEASED not in p.parts)
    released = sorted(p.relative_to(root / RELEASED) for p in (root / RELEASED).rglob("*.avsc"))
    assert released == current
    assert (root / RELEASED / PLACE_ORDER).read_text() == (root / PLACE_ORDER).read_text()
    # Once released, removing the field added since then is a break for released readers?
    # No: shipping_fee has a default, so both directions still resolve.
    _edit(root, PLACE_ORDER, lambda s: s["fields"].pop())
    assert _oms("schemas", "check", "--schemas", str(root)).returncode == 0


def test_each_broken_field_is_reported_with_its_own_reason() -> None:
    old = json.loads((SCHEMAS_DIR / WAREHOUSE_UPDATE).read_text())
    new = json.loads(json.dumps(old))
    _remove_enum_symbol(new)
    _narrow_long_to_int(new)
    found = {(p.field, p.detail.split(":")[0]) for p in check(old, new)}
    assert found == {("status", "missing_enum_symbols"), ("at", "type_mismatch")}
