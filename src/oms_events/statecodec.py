"""Tagged JSON for an aggregate's attributes, the ``state`` of a snapshot.

The library's JSON transcoder cannot hold dicts keyed by UUID, tuples or sets,
which aggregates use freely (``InventoryItem.reservations``). This codec tags
each non-JSON value as ``{"_t": kind, "_v": data}`` so it comes back with its
type. Snapshots are a cache, rebuilt from events at will, so this format needs
no Avro schema per aggregate.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic, resolve_topic

_TAG, _VALUE = "_t", "_v"


def _tree(obj: Any) -> Any:
    # Order matters: Enum before str/int (StrEnum is a str), datetime before date.
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, Enum):
        return {_TAG: "enum", _VALUE: [get_topic(type(obj)), _tree(obj.value)]}
    if isinstance(obj, int | float | str):
        return obj
    if isinstance(obj, UUID):
        return {_TAG: "uuid", _VALUE: obj.hex}
    if isinstance(obj, datetime):
        return {_TAG: "datetime", _VALUE: obj.isoformat()}
    if isinstance(obj, date):
        return {_TAG: "date", _VALUE: obj.isoformat()}
    if isinstance(obj, Decimal):
        return {_TAG: "decimal", _VALUE: str(obj)}
    if isinstance(obj, list):
        return [_tree(v) for v in obj]
    if isinstance(obj, tuple):
        return {_TAG: "tuple", _VALUE: [_tree(v) for v in obj]}
    if isinstance(obj, set | frozenset):
        kind = "frozenset" if isinstance(obj, frozenset) else "set"
        return {_TAG: kind, _VALUE: [_tree(v) for v in obj]}
    if isinstance(obj, dict):
        return {_TAG: "dict", _VALUE: [[_tree(k), _tree(v)] for k, v in obj.items()]}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: _tree(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        return {_TAG: "dataclass", _VALUE: [get_topic(type(obj)), fields]}
    raise TypeError(f"cannot snapshot a {type(obj).__name__}: add it to statecodec")


def encode(state: dict[str, Any]) -> bytes:
    """An aggregate's ``__dict__`` as tagged JSON bytes."""
    return json.dumps(_tree(state), separators=(",", ":"), ensure_ascii=False).encode()


def _hook(node: dict[str, Any]) -> Any:
    # json.loads calls this for every object, innermost first: a tagged value's parts
    # are typed already. A dataclass's fields are the one untagged object.
    if _TAG not in node:
        return node
    kind, value = node[_TAG], node[_VALUE]
    if kind == "uuid":
        return UUID(value)
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "decimal":
        return Decimal(value)
    if kind == "tuple":
        return tuple(value)
    if kind == "set":
        return set(value)
    if kind == "frozenset":
        return frozenset(value)
    if kind == "dict":
        return dict(value)
    if kind == "enum":
        return resolve_topic(value[0])(value[1])
    if kind == "dataclass":
        cls = resolve_topic(value[0])
        instance = object.__new__(cls)
        # object.__setattr__ also works on frozen and slotted dataclasses.
        for name, field_value in value[1].items():
            object.__setattr__(instance, name, field_value)
        return instance
    raise ValueError(f"unknown tag {kind!r} in snapshot state")


def decode(data: bytes) -> dict[str, Any]:
    """The attributes :func:`encode` wrote, with their types (typed while parsing:
    json's object hook runs in the parser's loop, not a second walk in Python)."""
    state = json.loads(data, object_hook=_hook)
    if not isinstance(state, dict):
        raise ValueError("snapshot state is not a mapping")
    return state
