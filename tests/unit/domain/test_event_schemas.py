"""Every event class has an Avro schema whose fields are the event's attributes, and
every recorded event survives an Avro round trip unchanged (schemas are contracts)."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from oms_events import resources
from oms_events.domain import events_by_aggregate_type
from tests.unit.domain.samples import events_of_every_kind

SCHEMAS = resources.schemas()  # the files the package ships
REGISTRY = events_by_aggregate_type()
EVENT_CLASSES = [
    (aggregate_type, name, cls)
    for aggregate_type, classes in REGISTRY.items()
    for name, cls in classes.items()
]
SAMPLES = events_of_every_kind()


def schema_path(aggregate_type: str, name: str) -> Path:
    return SCHEMAS / aggregate_type / "events" / f"{name}.avsc"


def load(aggregate_type: str, name: str) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(schema_path(aggregate_type, name).read_text("utf-8"))
    return raw


def attributes(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def test_event_names_are_unique_across_aggregate_types() -> None:
    names = [name for _, name, _ in EVENT_CLASSES]
    assert len(names) == len(set(names))


def test_every_schema_file_belongs_to_an_event_class() -> None:
    files = {(path.parent.parent.name, path.stem) for path in SCHEMAS.glob("*/events/*.avsc")}
    assert files == {(t, n) for t, n, _ in EVENT_CLASSES}


@pytest.mark.parametrize(
    ("aggregate_type", "name", "cls"), EVENT_CLASSES, ids=[n for _, n, _ in EVENT_CLASSES]
)
def test_the_schema_fields_are_the_event_attributes(
    aggregate_type: str, name: str, cls: type
) -> None:
    raw = load(aggregate_type, name)
    parse_schema(raw)  # raises on an invalid schema
    assert (raw["name"], raw["namespace"]) == (name, f"oms.{aggregate_type}")
    assert [f["name"] for f in raw["fields"]] == attributes(cls)


@pytest.mark.parametrize(
    ("aggregate_type", "name", "cls"), EVENT_CLASSES, ids=[n for _, n, _ in EVENT_CLASSES]
)
def test_optional_fields_default_to_null(aggregate_type: str, name: str, cls: type) -> None:
    def walk(fields: list[dict[str, Any]]) -> None:
        for f in fields:
            t = f["type"]
            if isinstance(t, list) and "null" in t:
                assert t[0] == "null" and f.get("default", "missing") is None, f["name"]
            for inner in t if isinstance(t, list) else [t]:
                if isinstance(inner, dict) and inner.get("type") == "record":
                    walk(inner["fields"])
                if isinstance(inner, dict) and inner.get("type") == "array":
                    items = inner["items"]
                    if isinstance(items, dict) and items.get("type") == "record":
                        walk(items["fields"])

    walk(load(aggregate_type, name)["fields"])


def test_the_samples_cover_every_event_class() -> None:
    sampled = {type(e) for e in SAMPLES}
    missing = [name for _, name, cls in EVENT_CLASSES if cls not in sampled]
    assert missing == []


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda e: type(e).__name__)
def test_a_recorded_event_round_trips_through_avro(sample: Any) -> None:
    aggregate_type = next(t for t, n, cls in EVENT_CLASSES if cls is type(sample))
    schema = parse_schema(load(aggregate_type, type(sample).__name__))
    record = dict(vars(sample))
    buffer = io.BytesIO()
    schemaless_writer(buffer, schema, record)
    buffer.seek(0)
    decoded = schemaless_reader(buffer, schema, None)
    assert decoded == record
    # And the event can be rebuilt from what Avro gives back.
    assert type(sample)(**decoded) == sample
