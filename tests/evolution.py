"""A schema evolution for tests: StockReceived as a previous release wrote it.

Version 1 counted cases of 12 and had no ``reason``; version 2 (the class made so by
:func:`evolve`, for one test) counts units, records its ``class_version``, and its
upcaster turns a version 1 event into a version 2 one. :func:`evolved_codec` reads
both writers; :func:`v1_value` writes what the old release put on Kafka.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from fastavro import schemaless_writer

from oms_events.avro.catalog import Catalog, Schema, default_catalog, from_raw
from oms_events.avro.codec import SINGLE_OBJECT_MAGIC, SingleObjectCodec
from oms_events.domain.inventory import InventoryItem

V1: dict[str, Any] = {
    "type": "record",
    "name": "StockReceived",
    "namespace": "oms.inventory",
    "fields": [
        {"name": "originator_id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "originator_version", "type": "int"},
        {"name": "timestamp", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "quantity", "type": "int"},
    ],
}
CASE = 12  # units in a case: what version 1 counted in


def evolved_codec(folder: Path) -> tuple[SingleObjectCodec, Schema]:
    """A codec whose StockReceived is version 2 (records its class_version, reason has
    a default) and that still reads version 1; and the version 1 schema."""
    current = dict(V1, fields=[*V1["fields"]])
    current["fields"] += [
        {"name": "reason", "type": "string", "default": ""},
        {"name": "class_version", "type": "int", "default": 1},
    ]
    catalog = Catalog(folder)
    for schema in default_catalog().by_name.values():
        if schema.name != "oms.inventory.StockReceived":
            catalog.add(schema)
    catalog.add(from_raw(current, folder / "StockReceived.avsc"))
    v1 = from_raw(V1, folder / "released" / "StockReceived.avsc")
    catalog.add_old_writer(v1)  # events on Kafka are forever: old writers stay readable
    return SingleObjectCodec(catalog), v1


def v1_value(v1: Schema, state: dict[str, Any]) -> bytes:
    """What the previous release's writer put on Kafka."""
    body = io.BytesIO()
    schemaless_writer(body, v1.parsed, state)
    return SINGLE_OBJECT_MAGIC + v1.fingerprint + body.getvalue()


def upcast_v1_v2(state: dict[str, Any]) -> None:
    """Version 1 counted cases; version 2 counts units and says why stock came."""
    state["quantity"] *= CASE
    state["reason"] = "received (v1)"


def evolve(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make StockReceived the version 2 class with its upcaster, for one test."""
    monkeypatch.setattr(InventoryItem.StockReceived, "class_version", 2, raising=False)
    monkeypatch.setattr(
        InventoryItem.StockReceived, "upcast_v1_v2", staticmethod(upcast_v1_v2), raising=False
    )
