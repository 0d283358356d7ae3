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
    old = json.loads((SCHEMAS_DIR / RELEASED / "v1" / PLACE_ORDER).read_text())
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
    assert (root / RELEASED / "v1" / WAREHOUSE_UPDATE).exists()


def test_release_adds_a_version_and_keeps_every_earlier_one(tmp_path: Path) -> None:
    root = _released_copy(tmp_path)
    before = sorted(p.name for p in (root / RELEASED).iterdir())
    _edit(
        root,
        PLACE_ORDER,
        lambda s: s["fields"].append({"name": "memo", "type": ["null", "string"], "default": None}),
    )
    out = _oms("schemas", "release", "--schemas", str(root))
    assert out.returncode == 0, out.stderr
    [new] = sorted(set(p.name for p in (root / RELEASED).iterdir()) - set(before))
    # Only what changed since the newest release is frozen; older versions stay.
    assert (root / RELEASED / new / PLACE_ORDER).read_text() == (root / PLACE_ORDER).read_text()
    assert (root / RELEASED / "v1" / PLACE_ORDER).exists()
    assert not (root / RELEASED / new / WAREHOUSE_UPDATE).exists()
    again = _oms("schemas", "release", "--schemas", str(root))
    assert "nothing changed" in again.stdout
    # A field that every release has may not be dropped without a default, whichever
    # release wrote the record: the check is transitive over all of them.
    _edit(
        root,
        PLACE_ORDER,
        lambda s: s["fields"].__setitem__(0, {**s["fields"][0], "name": "renamed"}),
    )
    broken = _oms("schemas", "check", "--schemas", str(root))
    assert broken.returncode == 1
    assert "against released v1" in broken.stderr and f"against released {new}" in broken.stderr
