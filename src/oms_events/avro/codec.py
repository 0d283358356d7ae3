"""Avro encoding with the writer schema identified on the wire.

* Single-object encoding (the Avro spec's): ``C3 01`` + 8-byte little-endian
  CRC-64-AVRO fingerprint + body. The default, needing no registry.
* Confluent wire format: ``00`` + 4-byte big-endian schema id + body, when a schema
  registry is configured (ids come from the registry, under the subject the
  configured naming strategy gives the topic and record).

Encoding names the topic the record goes to: the single-object header does not
carry it, but a registry subject may (``<topic>-<record>``, ``<topic>-value``).

Decoding always resolves the writer schema to the reader's current schema, so old
events read as today's records (new fields take their defaults).
"""

from __future__ import annotations

import io
import struct
from collections import OrderedDict
from typing import Any, Protocol

from fastavro import schemaless_reader, schemaless_writer

from oms_events.avro.catalog import Catalog, Schema, default_catalog

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"


class DecodeError(ValueError):
    """Bytes that are not a record this codec can read; the message says why."""


class CodecUnavailable(RuntimeError):
    """Something the codec needs (the schema registry, the key store) could not be
    reached. Not a problem of the record at hand: processes stop or retry on it
    instead of dead-lettering every record they try to read or write."""


class Codec(Protocol):
    """Encodes a record under a named schema and decodes it back."""

    def encode(self, name: str, record: dict[str, Any], *, topic: str) -> bytes: ...

    def decode(
        self, data: bytes, reader: str | None = None, *, text_uuids: bool = False
    ) -> tuple[str, dict[str, Any]]: ...


def _write(schema: Schema, record: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    schemaless_writer(buf, schema.parsed, record)
    return buf.getvalue()


def _read(body: bytes, writer: Schema, reader: Schema, text_uuids: bool) -> dict[str, Any]:
    # Text uuids: fastavro applies the writer schema's logical types, so reading with
    # the uuid-less forms keeps each uuid the string it is on the wire (building a
    # UUID object cost more than the Avro decoding of an inventory event).
    w, r = (
        (writer.parsed_text_uuids, reader.parsed_text_uuids)
        if text_uuids
        else (writer.parsed, reader.parsed)
    )
    try:
        return schemaless_reader(io.BytesIO(body), w, r)  # type: ignore[return-value]
    except Exception as exc:
        raise DecodeError(f"cannot read {writer.name} as {reader.name}: {exc}") from exc


class SingleObjectCodec:
    """Avro single-object encoding against the local schema catalog."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog or default_catalog()

    def encode(self, name: str, record: dict[str, Any], *, topic: str) -> bytes:
        """Encode ``record`` with the current schema named ``name`` (for any topic)."""
        schema = self.catalog.get(name)
        return SINGLE_OBJECT_MAGIC + schema.fingerprint + _write(schema, record)

    def decode(
        self, data: bytes, reader: str | None = None, *, text_uuids: bool = False
    ) -> tuple[str, dict[str, Any]]:
        """Return (schema name, record); the reader defaults to the writer's current version.

        ``text_uuids``: ``uuid`` fields come as ``str`` instead of ``uuid.UUID``.
        """
        if len(data) < 10 or data[:2] != SINGLE_OBJECT_MAGIC:
            raise DecodeError("not Avro single-object encoding (missing C3 01 marker)")
        try:
            writer = self.catalog.writer(data[2:10])
        except KeyError as exc:
            raise DecodeError(str(exc)) from exc
        target = self.catalog.get(reader or writer.name)
        return target.name, _read(data[10:], writer, target, text_uuids)


class SchemaIds(Protocol):
    """Where Confluent schema ids come from (a schema registry): ``schema_for`` raises
    KeyError for an id it never gave."""

    def id_for(self, subject: str, schema: Schema) -> int: ...

    def schema_for(self, schema_id: int) -> Schema: ...


def subject_name(strategy: str, topic: str, record: str) -> str:
    """The registry subject of a record's schema on a topic, by Confluent's strategies.

    ``topic_record`` (TopicRecordNameStrategy) = ``<topic>-<record full name>``;
    ``record`` (RecordNameStrategy) = ``<record full name>``; ``topic``
    (TopicNameStrategy) = ``<topic>-value``, for topics that carry one record type.
    """
    if strategy == "topic_record":
        return f"{topic}-{record}"
    if strategy == "record":
        return record
    if strategy == "topic":
        return f"{topic}-value"
    raise ValueError(f"unknown subject strategy {strategy!r}; use topic_record, record or topic")


class ConfluentCodec:
    """Confluent wire format; the subject of each schema follows ``strategy``."""

    def __init__(
        self, ids: SchemaIds, strategy: str = "topic_record", catalog: Catalog | None = None
    ) -> None:
        subject_name(strategy, "", "")  # an unknown strategy fails here, not on first write
        self.ids = ids
        self.strategy = strategy
        self.catalog = catalog or default_catalog()

    def encode(self, name: str, record: dict[str, Any], *, topic: str) -> bytes:
        """Encode with the id the registry assigns to the current schema of ``name``
        under the subject of ``topic`` (raises avro.registry.RegistryRefused)."""
        schema = self.catalog.get(name)
        schema_id = self.ids.id_for(subject_name(self.strategy, topic, schema.name), schema)
        return CONFLUENT_MAGIC + struct.pack(">I", schema_id) + _write(schema, record)

    def decode(
        self, data: bytes, reader: str | None = None, *, text_uuids: bool = False
    ) -> tuple[str, dict[str, Any]]:
        """Fetch the writer schema by id and resolve it to the current reader schema
        (``text_uuids``: ``uuid`` fields as ``str``)."""
        if len(data) < 5 or data[:1] != CONFLUENT_MAGIC:
            raise DecodeError("not Confluent wire format (missing 00 magic byte)")
        (schema_id,) = struct.unpack(">I", data[1:5])
        try:
            writer = self.ids.schema_for(schema_id)
        except KeyError as exc:  # an id the registry never gave: a bad record
            raise DecodeError(str(exc)) from exc
        target = self.catalog.get(reader or writer.name)
        return target.name, _read(data[5:], writer, target, text_uuids)


class SharedDecodes:
    """A codec that decodes each distinct record value once for several readers.

    ``oms project`` runs every projection in one process, each with its own consumer,
    and three of them read ``oms.order.events``: without this, each OrderPlaced was
    Avro-decoded three times. Values are whole events (id, version, timestamp), so
    equal bytes always mean the same record. Callers get their own top-level dict;
    nested values are shared and must be treated as read-only (projections only
    read payloads). Bounded: the oldest decode leaves once ``size`` are held — the
    readers poll in turn, so a value is asked for again soon or not at all. (A
    50,000-entry memo cleared when full doubled the projection process's peak RSS,
    108 -> 209 MiB; 10,000 oldest-out keeps the hits at a fifth of that memory.)
    """

    def __init__(self, inner: Codec, size: int = 10_000) -> None:
        self.inner = inner
        self.size = size
        self._memo: OrderedDict[tuple[bytes, bool], tuple[str, dict[str, Any]]] = OrderedDict()

    def encode(self, name: str, record: dict[str, Any], *, topic: str) -> bytes:
        """Encode with the wrapped codec."""
        return self.inner.encode(name, record, topic=topic)

    def decode(
        self, data: bytes, reader: str | None = None, *, text_uuids: bool = False
    ) -> tuple[str, dict[str, Any]]:
        """Decode once per distinct value (a reader other than the writer's bypasses it;
        text and object uuids are held apart)."""
        if reader is not None:
            return self.inner.decode(data, reader, text_uuids=text_uuids)
        key = (data, text_uuids)
        hit = self._memo.get(key)
        if hit is None:
            if len(self._memo) >= self.size:
                self._memo.popitem(last=False)
            hit = self._memo[key] = self.inner.decode(data, text_uuids=text_uuids)
        return hit[0], dict(hit[1])
