"""The codec that keeps personal data sealed on Kafka and plain in memory.

:class:`Vault` wraps the Avro codec: on encode, each field the schema marks personal
(:mod:`~oms_events.privacy.marks`) becomes a token sealed under its order's key
(:mod:`~oms_events.privacy.seal`); on decode, tokens are opened, and those whose key was
deleted (the customer was forgotten) read as ``[forgotten]``. Plain values written before
sealing existed pass through. The domain, the projections and the sagas see plain text;
the topics, and whoever reads them raw, see tokens.

A processor brackets each Kafka transaction with :meth:`Vault.begin` (the keys its
records name, read in one query) and :meth:`Vault.settle` (the keys and links it made,
written in one statement before anything is sent) or :meth:`Vault.abandon`; see
:func:`sealing` and the key store's ``begin``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, Protocol, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from oms_events.avro.catalog import Catalog, default_catalog
from oms_events.avro.codec import Codec, SharedDecodes
from oms_events.privacy import seal as tokens
from oms_events.privacy.keystore import Conflict, Keys
from oms_events.privacy.marks import SEAL, STATE, Marks, catalog_marks, rewrite, strings

_TAG, _VALUE = "_t", "_v"  # statecodec's tags
# The subject of every token in a record's bytes (a token is a plain Avro string).
_SUBJECTS = re.compile(re.escape(tokens.MARK) + rb"([0-9a-f]{32}):")
# A token as a JSON string in a snapshot's state (base64 has no character JSON escapes).
_STATE_TOKEN = re.compile(rb'"(' + re.escape(tokens.MARK) + rb'[0-9a-f]{32}:[A-Za-z0-9+/]+=*)"')


class Written(Protocol):
    """A record a transaction will send (engine.records.Outgoing)."""

    @property
    def topic(self) -> str: ...

    @property
    def value(self) -> bytes | None: ...


W = TypeVar("W", bound=Written)


class Sealing(Protocol):
    """The key batch of one Kafka transaction, as a processor drives it."""

    def prefetch(self, values: Iterable[bytes | None]) -> None:
        """A reader's batch (a projection's poll): read the keys of its tokens at once."""
        ...

    def begin(self, values: Iterable[bytes | None]) -> None:
        """Before handling: read the keys of the tokens in the batch's records."""
        ...

    def settle(self, records: list[W]) -> list[W]:
        """Before sending: make the batch's keys durable; ``records`` as they must go."""
        ...

    def abandon(self) -> None:
        """The transaction aborts: forget what the batch made."""
        ...


class _Plain:
    """No sealing (a plain codec): nothing to batch."""

    def prefetch(self, values: Iterable[bytes | None]) -> None:
        """Nothing to read."""

    def begin(self, values: Iterable[bytes | None]) -> None:
        """Nothing to read."""

    def settle(self, records: list[W]) -> list[W]:
        """Nothing to write."""
        return records

    def abandon(self) -> None:
        """Nothing to forget."""


def sealed_in_one_batch(codec: Codec, make: Callable[[], list[W]]) -> list[W]:
    """The records ``make`` builds, with the keys and links their sealing made written in
    one statement (a writer outside a processor's transaction: a bench's driver) instead
    of one per order; re-sealed where another process made an order's key first."""
    keys = sealing(codec)
    keys.begin([])
    try:
        return keys.settle(make())
    finally:
        keys.abandon()  # settled already, or nothing sealed with its keys goes out


def sealing(codec: Codec) -> Sealing:
    """The key batch of ``codec``: a vault's (shared decodes or not), or one that does
    nothing."""
    if isinstance(codec, SharedDecodes):
        codec = codec.inner
    return codec if isinstance(codec, Vault) else _Plain()


class Vault:
    """A :class:`~oms_events.avro.codec.Codec` sealing personal fields (see the module)."""

    def __init__(self, inner: Codec, keys: Keys, catalog: Catalog | None = None) -> None:
        self.inner = inner
        self.keys = keys
        self.marks = catalog_marks(catalog or default_catalog())
        self.needles = {name: _needles(marks) for name, marks in self.marks.items()}

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

    # --- one batch per Kafka transaction (see Sealing) ----------------------------------

    def begin(self, values: Iterable[bytes | None]) -> None:
        """Read, in one query, the keys of the tokens in the batch's records (``values``),
        so opening them asks the store nothing more. Keys are not read for the orders a
        command names without a token: most ids a command is keyed by have no key (a
        payment's, a shipment's), and an order whose key this process no longer holds
        is rare enough for the conflict path (keystore.Conflict) to take."""
        self.keys.begin(_subjects(values))

    def prefetch(self, values: Iterable[bytes | None]) -> None:
        """Read, in one query, the keys of the tokens in a reader's batch (``values``)."""
        self.keys.prefetch(_subjects(values))

    def settle(self, records: list[W]) -> list[W]:
        """Write the keys and links the batch made (one statement), then seal again the
        records whose order's key another process made first (see keystore.Conflict)."""
        conflicts = self.keys.flush()
        if not conflicts:
            return records
        return [self._reseal(r, conflicts) for r in records]

    def abandon(self) -> None:
        """Forget the batch's keys: nothing sealed with them is sent."""
        self.keys.abandon()

    def _reseal(self, record: W, conflicts: dict[str, Conflict]) -> W:
        value = record.value
        if not value or tokens.MARK not in value:
            return record
        if not any(m.decode() in conflicts for m in _SUBJECTS.findall(value)):
            return record
        name, plain = self.inner.decode(value)
        marks = self.marks[name]

        def one(token: str) -> str:
            conflict = conflicts.get(tokens.subject_of(token)) if tokens.is_sealed(token) else None
            if conflict is None:
                return token
            try:
                opened = tokens.opened_by(conflict.mine, token)
            except (InvalidTag, ValueError):
                return token  # not sealed by this batch (a forwarded input): as it came
            if conflict.theirs is None:
                return tokens.REDACTED
            return tokens.seal(conflict.theirs, tokens.subject_of(token), opened)

        def leaf(kind: str, leaf_value: Any) -> Any:
            if kind == SEAL:
                return strings(leaf_value, one)
            return _state(leaf_value, marks, one) if isinstance(leaf_value, bytes) else leaf_value

        resealed = rewrite(plain, marks.plan, leaf)
        return dataclasses.replace(  # type: ignore[type-var]
            record, value=self.inner.encode(name, resealed, topic=record.topic)
        )

    # --- sealing ------------------------------------------------------------------------

    def _seal(self, marks: Marks, record: dict[str, Any]) -> dict[str, Any]:
        subject = marks.subject_of(record)
        snapshot = STATE in marks.plan.values()
        if snapshot:
            # A snapshot: only an aggregate holding personal dataclasses needs a key
            # (an order's; a stock item's has none and makes none).
            state = record.get("state")
            needles = self.needles[marks.name]
            if not isinstance(state, bytes) or not any(n in state for n in needles):
                return record
        # The key is asked for on the first personal value met: a snapshot's state is
        # walked once, and one that holds none (the needles matched a plain key) makes
        # no key and is sent as it was.
        ciphers: list[AESGCM | None] = []

        def key() -> AESGCM | None:
            if not ciphers:
                ciphers.append(
                    self.keys.key_for(subject, marks.identities(record), marks.aliases(record))
                )
            return ciphers[0]

        def one(value: str) -> str:
            if tokens.is_sealed(value) or value == tokens.REDACTED:
                return value
            cipher = key()
            return tokens.REDACTED if cipher is None else tokens.seal(cipher, subject, value)

        def leaf(kind: str, value: Any) -> Any:
            if kind == SEAL:
                return strings(value, one)
            return _state(value, marks, one)

        sealed: dict[str, Any] = rewrite(record, marks.plan, leaf)
        if not ciphers:
            if snapshot:
                return record
            # A record whose personal fields are all empty still links its order to
            # its customer (forgetting the customer must reach the order).
            key()
        return sealed

    def _open(self, marks: Marks, kind: str, value: Any) -> Any:
        if kind == SEAL:
            return strings(value, self._open_one)
        return self._open_state(value) if isinstance(value, bytes) else value

    def _open_state(self, state: bytes) -> bytes:
        """A snapshot's tagged JSON with every token in it opened, found by its shape in
        the bytes: a rebuild opens thousands of snapshots, and parsing, walking and
        writing each tree again to find the fields sealing marked cost 4x the opening.
        (Any string shaped as a token is one; a non-token never matches the shape.)"""

        def one(found: re.Match[bytes]) -> bytes:
            opened = self._open_one(found.group(1).decode())
            return json.dumps(opened, ensure_ascii=False).encode()

        return _STATE_TOKEN.sub(one, state)

    def _open_one(self, token: str) -> str:
        if not tokens.is_sealed(token):
            return token  # written before sealing, or already redacted
        return tokens.open_token(self.keys.key(tokens.subject_of(token)), token)


def _subjects(values: Iterable[bytes | None]) -> list[str]:
    """The orders (32 hex) whose tokens are in ``values``, each once."""
    found: dict[str, None] = {}
    for value in values:
        if value and tokens.MARK in value:
            found.update((m.decode(), None) for m in _SUBJECTS.findall(value))
    return list(found)


def _needles(marks: Marks) -> tuple[bytes, ...]:
    # What a tagged-JSON state holding personal data must contain: a dataclass named like
    # a marked record (its topic ends ":Customer"), or a dict key of one (["phone",).
    names = [f':{name}"'.encode() for name in marks.records]
    keys = {f'["{f}",'.encode() for fields in marks.records.values() for f in fields}
    return (*names, *sorted(keys))


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
