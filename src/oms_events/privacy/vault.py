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

    def decode(self, data: bytes, reader: str | None = None) -> tuple[str, dict[str, Any]]:
        """Decode, opening every token (``[forgotten]`` where the key is gone)."""
        name, record = self.inner.decode(data, reader)
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
        cipher = self.keys.key_for(subject, marks.identities(record))

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


def _personal_state(state: bytes, marks: Marks) -> bool:
    # Cheap test before parsing: the dataclass topics end in their class names.
    return any(f':{name}"'.encode() in state for name in marks.records)


def _state(state: bytes, marks: Marks, one: Any) -> bytes:
    """A snapshot's tagged JSON with the personal fields of its dataclasses passed
    through ``one`` (sealed or opened)."""
    if not _personal_state(state, marks):
        return state

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        value: Any = node.get(_VALUE)
        if node.get(_TAG) == "dataclass":
            topic, fields = value
            personal = marks.records.get(str(topic).rsplit(":", 1)[-1], frozenset())
            return {
                _TAG: "dataclass",
                _VALUE: [
                    topic,
                    {
                        k: one(v) if k in personal and isinstance(v, str) else walk(v)
                        for k, v in fields.items()
                    },
                ],
            }
        return {_TAG: node.get(_TAG), _VALUE: walk(value)}

    tree = walk(json.loads(state))
    return json.dumps(tree, separators=(",", ":"), ensure_ascii=False).encode()
