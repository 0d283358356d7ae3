"""Schema evolution check under Avro's resolution rules.

A new schema must read what the previous release wrote (backward: a new field
needs a default) and the previous release must read what the new one writes
(forward: a removed field needed a default). Both are checked by actually
writing sample data with one schema and resolving it with fastavro to the other,
so every rule fastavro enforces is enforced here.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from oms_events.avro.catalog import RELEASED, SCHEMAS_DIR, load

_PRIMITIVES: dict[str, Any] = {
    "null": None,
    "boolean": True,
    "int": 7,
    "long": 1_700_000_000_000,
    "float": 1.5,
    "double": 2.5,
    "bytes": b"\x01\x02",
    "string": "样例 sample",
}


def sample(schema: Any, named: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """A value that exercises every field of ``schema`` (first non-null union branch)."""
    named = {} if named is None else named
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return _PRIMITIVES[schema]
        return sample(named[schema], named, depth + 1)
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"] or ["null"]
        return sample(branches[0], named, depth + 1)
    kind = schema["type"]
    if kind == "record":
        named[schema["name"]] = schema
        if schema.get("namespace"):
            named[f"{schema['namespace']}.{schema['name']}"] = schema
        return {f["name"]: sample(f["type"], named, depth + 1) for f in schema["fields"]}
    if kind == "enum":
        named[schema["name"]] = schema
        return schema["symbols"][0]
    if kind == "array":
        return [sample(schema["items"], named, depth + 1)]
    if kind == "map":
        return {"k": sample(schema["values"], named, depth + 1)}
    if kind == "fixed":
        named[schema["name"]] = schema
        return b"\x00" * schema["size"]
    logical = schema.get("logicalType")
    if logical in ("timestamp-millis", "timestamp-micros"):
        return datetime(2026, 1, 1, tzinfo=UTC)
    if logical == "uuid":
        return "6f1c9e5e-2b0a-4a53-9d8e-3f1f3a7d2c10"
    if logical == "date":
        return date(2026, 1, 1)
    return sample(kind, named, depth + 1)


def _resolve(writer: dict[str, Any], reader: dict[str, Any]) -> str | None:
    w, r = parse_schema(writer, _write_hint=False), parse_schema(reader, _write_hint=False)
    buf = io.BytesIO()
    try:
        schemaless_writer(buf, w, sample(writer))
        buf.seek(0)
        schemaless_reader(buf, w, r)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def check(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Problems that stop ``new`` from replacing ``old``; empty when compatible."""
    problems = []
    backward = _resolve(old, new)
    if backward:
        problems.append(f"new reader cannot read old data ({backward})")
    forward = _resolve(new, old)
    if forward:
        problems.append(f"old reader cannot read new data ({forward})")
    old_fields = {f["name"] for f in old.get("fields", [])}
    for f in new.get("fields", []):
        if f["name"] not in old_fields and "default" not in f:
            problems.append(f"field {f['name']!r} is new and has no default")
    return problems


def check_released(root: Any = SCHEMAS_DIR) -> dict[str, list[str]]:
    """Check every schema that has a released copy; returns {path: problems}."""
    results: dict[str, list[str]] = {}
    released = root / RELEASED
    for old_path in sorted(released.rglob("*.avsc")):
        rel = old_path.relative_to(released)
        new_path = root / rel
        if not new_path.exists():
            results[str(rel)] = ["schema was released and has been deleted"]
            continue
        results[str(rel)] = check(load(old_path).raw, load(new_path).raw)
    return results
