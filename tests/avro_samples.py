"""A value for every field of a schema, to push each project schema through a codec."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

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
