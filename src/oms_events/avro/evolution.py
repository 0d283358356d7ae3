"""Schema evolution under Avro's resolution rules, checked by Apache Avro itself.

Every current schema under ``schemas/`` must be FULL compatible with each of its
frozen copies under ``schemas/released/v<N>/`` (every release is kept: records of each
version stay on Kafka forever, and the registry's subjects are FULL_TRANSITIVE): the
new schema reads what a released one wrote (backward) and the released one reads what
the new one writes (forward). The schema
registry's subjects are set to FULL_TRANSITIVE, so a change this check passes is one
the registry accepts too. The rules are Apache Avro's own
(``avro.compatibility.ReaderWriterCompatibilityChecker``), not a re-implementation.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import avro.schema
from avro.compatibility import (
    ReaderWriterCompatibilityChecker,
    SchemaCompatibilityType,
    lookup_writer_field,
)

from oms_events.avro.catalog import RELEASED, full_name

BACKWARD = "the new schema cannot read records the released one wrote"
FORWARD = "the released schema cannot read records the new one writes"


@dataclass(frozen=True)
class Incompatibility:
    """One reason a schema may not replace its released version."""

    schema: str  # full name, e.g. oms.warehouse.WarehouseUpdate
    field: str  # dotted field path (``lines.status``); "" for the record itself
    problem: str  # what breaks, in words
    detail: str  # Avro's incompatibility kind and message

    release: str = ""  # the release folder it breaks with, e.g. v1

    def __str__(self) -> str:
        where = f"{self.schema} field {self.field}" if self.field else self.schema
        against = f", against released {self.release}" if self.release else ""
        return f"{where}: {self.problem} ({self.detail}{against})"


def _field_path(reader: avro.schema.Schema, location: str) -> str:
    """The field names along an Avro checker location such as ``/fields/3/type/items``.

    Locations index the reader's fields; union branches are skipped (the checker
    numbers them by the writer's branches), and a union on the way is entered at the
    branch of the kind the next step needs.
    """
    names: list[str] = []
    node: Any = reader
    tokens = [t for t in location.split("/") if t]
    i = 0
    while i < len(tokens):
        token = tokens[i]
        wanted = {"fields": "record", "items": "array", "values": "map"}.get(token)
        if wanted and isinstance(node, avro.schema.UnionSchema):
            node = next((b for b in node.schemas if b.type == wanted), node)
        if token == "fields" and i + 1 < len(tokens) and hasattr(node, "fields"):
            index = int(tokens[i + 1])
            if index >= len(node.fields):
                break
            field = node.fields[index]
            names.append(field.name)
            node = field.type
            i += 2
            continue
        if token == "items" and hasattr(node, "items"):
            node = node.items
        elif token == "values" and hasattr(node, "values"):
            node = node.values
        i += 1
    return ".".join(names)


def _resolution(reader: avro.schema.Schema, writer: avro.schema.Schema) -> Any:
    """Avro's verdict on ``reader`` reading what ``writer`` wrote (a fresh memo each time)."""
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    return checker.get_compatibility(reader, writer)


def _detail(result: Any) -> str:
    kinds = ", ".join(sorted({k.name for k in result.incompatibilities}))
    return f"{kinds}: {'; '.join(sorted(result.messages))}"


def _findings(reader: Any, writer: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(field path, Avro's reason) for each field of ``reader`` that cannot read ``writer``'s.

    Avro's Python checker merges all findings of a pair into one result, and inside a
    writer's union it loses the location: asking it about each field pair in turn gives
    one finding per field, each with its own reason.
    """
    result = _resolution(reader, writer)
    if result.compatibility is not SchemaCompatibilityType.incompatible:
        return []
    if isinstance(reader, avro.schema.RecordSchema) and isinstance(
        writer, avro.schema.RecordSchema
    ):
        found: list[tuple[str, str]] = []
        for field in reader.fields:
            other = lookup_writer_field(writer_schema=writer, reader_field=field)
            if other is not None:
                found.extend(_findings(field.type, other.type, f"{prefix}{field.name}."))
            elif field.name in result.messages and not field.has_default:
                reason = "reader_field_missing_default_value: no such field to read, no default"
                found.append((f"{prefix}{field.name}", reason))
        if found:
            return found
    # Not a record pair, or the record itself differs (its name): the finding is here.
    places = {_field_path(reader, loc) for loc in result.locations if loc.strip("/")} - {""}
    path = prefix + (sorted(places)[0] if len(places) == 1 else "")
    return [(path.rstrip("."), _detail(result))]


def _one_way(
    reader: avro.schema.Schema, writer: avro.schema.Schema, name: str, problem: str
) -> list[Incompatibility]:
    return [Incompatibility(name, path, problem, why) for path, why in _findings(reader, writer)]


def check(released: dict[str, Any], current: dict[str, Any]) -> list[Incompatibility]:
    """Why ``current`` may not replace ``released`` under FULL compatibility; empty if it may."""
    old = avro.schema.parse(json.dumps(released))
    new = avro.schema.parse(json.dumps(current))
    name = full_name(current)
    return _one_way(new, old, name, BACKWARD) + _one_way(old, new, name, FORWARD)


def _avsc(folder: Path) -> dict[Path, Path]:
    # relative path -> file, leaving the released copies out of the current set
    return {
        path.relative_to(folder): path
        for path in sorted(folder.rglob("*.avsc"))
        if RELEASED not in path.relative_to(folder).parts
    }


def releases(root: Path) -> list[Path]:
    """The release folders ``root/released/v<N>``, oldest first."""
    folder = root / RELEASED
    found = [p for p in folder.glob("v*") if p.is_dir() and p.name[1:].isdigit()]
    return sorted(found, key=lambda p: int(p.name[1:]))


def check_released(root: Path) -> list[Incompatibility]:
    """Check every current schema under ``root`` against each of its released copies.

    A schema without a released copy is new and passes; a released schema whose file
    is gone is an incompatibility (its records on Kafka could no longer be read).
    """
    current = _avsc(root)
    problems: list[Incompatibility] = []
    gone: set[Path] = set()
    for version in releases(root):
        for rel, old_path in _avsc(version).items():
            old = json.loads(old_path.read_text())
            new_path = current.get(rel)
            if new_path is None:
                if rel not in gone:
                    gone.add(rel)
                    problems.append(
                        Incompatibility(
                            full_name(old), "", "was released and its file is gone", str(rel)
                        )
                    )
                continue
            for problem in check(old, json.loads(new_path.read_text())):
                problems.append(replace(problem, release=version.name))
    return problems


def release(root: Path) -> tuple[str, list[Path]]:
    """Freeze the current schemas that are new or changed since the newest released
    copy into a new folder ``root/released/v<N+1>``; earlier releases stay, so their
    writers keep decoding. Returns the new version's name and the files written
    (relative paths); nothing is written when nothing changed."""
    versions = releases(root)
    newest: dict[Path, str] = {}
    for version in versions:
        for rel, path in _avsc(version).items():
            newest[rel] = path.read_text()
    changed = {
        rel: path for rel, path in _avsc(root).items() if newest.get(rel) != path.read_text()
    }
    number = int(versions[-1].name[1:]) + 1 if versions else 1
    name = f"v{number}"
    for rel, path in changed.items():
        target = root / RELEASED / name / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return name, list(changed)
