"""The codec that keeps personal data sealed on Kafka and plain in memory.

:class:`Vault` wraps the Avro codec: on encode, each field the schema marks personal
(:mod:`~oms_events.privacy.marks`) becomes a token sealed under its order's key
(:mod:`~oms_events.privacy.seal`); on decode, tokens are opened, and those whose key was
deleted (the customer was forgotten) read as ``[forgotten]``. Plain values written before
sealing existed pass through. The domain, the projections and the sagas see plain text;
the topics, and whoever reads them raw, see tokens.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from oms_events.avro.catalog import Catalog, default_catalog
from oms_events.avro.codec import Codec
from oms_events.privacy import seal as tokens
from oms_events.privacy.keystore import Keys
from oms_events.privacy.marks import SEAL, STATE, Marks, catalog_marks, rewrite, strings

_TAG, _VALUE = "_t", "_v"  # statecodec's tags


class Vault:
    """A :class:`~oms_events.avro.codec.Codec` sealing personal fields (see the module)."""

    def __init__(self, inner: Codec, keys: Keys, catalog: Catalog | None = None) -> None:
        self.inner = inner
        self.keys = keys
        self.marks = catalog_marks(catalog or default_catalog())

    def encode(self, name: str, record: dict[str, Any], *, topic: str) -> bytes:
        """Encode ``record`` with its personal fields sealed (``record`` is not changed)."""
        marks = self.marks.get(name)
        if marks is not None:
            record = self._seal(marks, record)
        return self.inner.encode(name, record, topic=topic)

    def decode(
        self, data: bytes, reader: str | None = None, *, text_uuids: bool = False
    ) -> tuple[str, dict[str, Any]]:
        """Decode, opening every token (``[forgotten]`` where the key is gone)."""
        name, record = self.inner.decode(data, reader, text_uuids=text_uuids)
        marks = self.marks.get(name)
        if marks is None or tokens.MARK not in data:
            return name, record  # nothing sealed in it (written before sealing existed)
        opened: dict[str, Any] = rewrite(record, marks.plan, partial(self._open, marks))
        return name, opened

    # --- sealing ------------------------------------------------------------------------

    def _seal(self, marks: Marks, record: dict[str, Any]) -> dict[str, Any]:
        subject = marks.subject_of(record)
        if STATE in marks.plan.values():
            # A snapshot: only an aggregate holding personal dataclasses needs a key
            # (an order's; a stock item's has none and makes none).
            state = record.get("state")
            if not isinstance(state, bytes) or not _personal_state(state, marks):
                return record
        cipher = self.keys.key_for(subject, marks.identities(record), marks.aliases(record))

        def one(value: str) -> str:
            if tokens.is_sealed(value) or value == tokens.REDACTED:
                return value
            return tokens.REDACTED if cipher is None else tokens.seal(cipher, subject, value)

        def leaf(kind: str, value: Any) -> Any:
            if kind == SEAL:
                return strings(value, one)
            return _state(value, marks, one)

        sealed: dict[str, Any] = rewrite(record, marks.plan, leaf)
        return sealed

    def _open(self, marks: Marks, kind: str, value: Any) -> Any:
        if kind == SEAL:
            return strings(value, self._open_one)
        return _state(value, marks, self._open_one) if isinstance(value, bytes) else value

    def _open_one(self, token: str) -> str:
        if not tokens.is_sealed(token):
            return token  # written before sealing, or already redacted
        return tokens.open_token(self.keys.key(tokens.subject_of(token)), token)


def _needles(marks: Marks) -> tuple[bytes, ...]:
    # What a tagged-JSON state holding personal data must contain: a dataclass named like
    # a marked record (its topic ends ":Customer"), or a dict key of one (["phone",).
    names = [f':{name}"'.encode() for name in marks.records]
    keys = {f'["{f}",'.encode() for fields in marks.records.values() for f in fields}
    return (*names, *sorted(keys))


def _personal_state(state: bytes, marks: Marks) -> bool:
    """True when the snapshot state holds a personal value (cheap test first)."""
    if not any(n in state for n in _needles(marks)):
        return False
    found = False

    def note(value: str) -> str:
        nonlocal found
        found = True
        return value

    _state(state, marks, note)
    return found


def _strings(value: Any, one: Any) -> Any:
    # A value of a personal field in tagged JSON: a string, a list of them, or a tagged
    # tuple / set of them (a merge member's identities).
    if isinstance(value, str):
        return one(value)
    if isinstance(value, list):
        return [one(v) if isinstance(v, str) else v for v in value]
    if isinstance(value, dict) and value.get(_TAG) in ("tuple", "set", "frozenset"):
        return {_TAG: value[_TAG], _VALUE: _strings(value[_VALUE], one)}
    return value


def _state(state: bytes, marks: Marks, one: Any) -> bytes:
    """A snapshot's tagged JSON with its personal values passed through ``one`` (sealed
    or opened): the marked fields of dataclasses named like a marked record (Customer,
    Address), and of dicts holding every personal field of one (a merge lead's facts of
    its members: identities, address)."""
    records = marks.records
    shapes = [fields for fields in records.values() if fields]

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        value: Any = node.get(_VALUE)
        kind = node.get(_TAG)
        if kind == "dataclass":
            topic, fields = value
            personal = records.get(str(topic).rsplit(":", 1)[-1], frozenset())
            return {
                _TAG: kind,
                _VALUE: [
                    topic,
                    {k: _strings(v, one) if k in personal else walk(v) for k, v in fields.items()},
                ],
            }
        if kind == "dict":
            keys = {k for k, _ in value if isinstance(k, str)}
            personal = frozenset().union(*(f for f in shapes if f <= keys))
            return {
                _TAG: kind,
                _VALUE: [[k, _strings(v, one) if k in personal else walk(v)] for k, v in value],
            }
        return {_TAG: kind, _VALUE: walk(value)}

    tree = walk(json.loads(state))
    return json.dumps(tree, separators=(",", ":"), ensure_ascii=False).encode()
