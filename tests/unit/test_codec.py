"""Avro on the wire: the writer schema is identified and old data resolves to new readers."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema

from oms_events.avro.catalog import Catalog, Schema, crc64_fingerprint, load
from oms_events.avro.codec import (
    SINGLE_OBJECT_MAGIC,
    ConfluentCodec,
    DecodeError,
    SharedDecodes,
    SingleObjectCodec,
)
from oms_events.cli.demo import PLACE_ORDER, sample_order
from tests.avro_samples import sample

CANCEL = "oms.order.commands.CancelOrder"
COMMANDS = "oms.order.commands"

V1 = {
    "type": "record",
    "name": "Parcel",
    "namespace": "oms.test",
    "fields": [{"name": "id", "type": "string"}, {"name": "weight_g", "type": "int"}],
}
V2 = {
    **V1,
    "fields": [*V1["fields"], {"name": "carrier", "type": ["null", "string"], "default": None}],
}


def _catalog(tmp_path: Path, *versions: dict[str, Any]) -> Catalog:
    for i, v in enumerate(versions):
        d = tmp_path / f"v{i}"
        d.mkdir(parents=True)
        (d / "Parcel.avsc").write_text(json.dumps(v))
    cat = Catalog(tmp_path / f"v{len(versions) - 1}")
    for i in range(len(versions) - 1):
        cat.add_old_writer(load(tmp_path / f"v{i}" / "Parcel.avsc"))
    return cat


def test_single_object_encoding_has_marker_and_fingerprint() -> None:
    codec = SingleObjectCodec()
    data = codec.encode(PLACE_ORDER, sample_order(), topic=COMMANDS)
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == codec.catalog.get(PLACE_ORDER).fingerprint


def test_single_object_header_is_the_specs_own_example_for_null() -> None:
    # The Avro specification's example: the schema "null" has this header.
    header = SINGLE_OBJECT_MAGIC + crc64_fingerprint(parse_schema("null"))
    assert header == bytes.fromhex("c3 01 8a 8f 25 cc e7 24 dd 63")


def test_records_written_with_the_reversed_fingerprint_still_decode() -> None:
    codec = SingleObjectCodec()
    order = sample_order()
    current = codec.encode(PLACE_ORDER, order, topic=COMMANDS)
    legacy = current[:2] + current[2:10][::-1] + current[10:]  # as written before the fix
    assert legacy != current
    assert codec.decode(legacy) == codec.decode(current)
    assert codec.decode(legacy)[1]["lines"] == order["lines"]


def test_round_trip_keeps_chinese_text_and_amounts() -> None:
    codec = SingleObjectCodec()
    order = sample_order()
    name, back = codec.decode(codec.encode(PLACE_ORDER, order, topic=COMMANDS))
    assert name == PLACE_ORDER
    assert back["customer"]["name"] == "张三"
    assert back["lines"] == order["lines"]


def test_old_writer_resolves_to_new_reader_with_defaults(tmp_path: Path) -> None:
    old_codec = SingleObjectCodec(_catalog(tmp_path / "a", V1))
    new_codec = SingleObjectCodec(_catalog(tmp_path / "b", V1, V2))
    data = old_codec.encode("oms.test.Parcel", {"id": "P1", "weight_g": 500}, topic="parcels")
    assert new_codec.decode(data) == (
        "oms.test.Parcel",
        {"id": "P1", "weight_g": 500, "carrier": None},
    )


def test_unknown_fingerprint_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="fingerprint"):
        SingleObjectCodec().decode(b"\xc3\x01" + b"\x00" * 8 + b"\x02")


def test_garbage_is_a_decode_error_not_a_crash() -> None:
    with pytest.raises(DecodeError):
        SingleObjectCodec().decode(b'{"json": "from a channel"}')


class _Ids:
    """Schema ids as a registry assigns them: sequential, one per distinct schema."""

    def __init__(self) -> None:
        self.by_id: dict[int, Schema] = {}
        self.subjects: list[str] = []

    def id_for(self, subject: str, schema: Schema) -> int:
        self.subjects.append(subject)
        for k, v in self.by_id.items():
            if v.fingerprint == schema.fingerprint:
                return k
        self.by_id[len(self.by_id) + 1] = schema
        return len(self.by_id)

    def schema_for(self, schema_id: int) -> Schema:
        return self.by_id[schema_id]


def test_confluent_wire_format_is_magic_byte_and_big_endian_id() -> None:
    codec = ConfluentCodec(_Ids())
    data = codec.encode(PLACE_ORDER, sample_order(), topic=COMMANDS)
    assert data[0] == 0
    assert struct.unpack(">I", data[1:5]) == (1,)
    assert codec.decode(data)[1]["channel"] == "tmall"
    with pytest.raises(DecodeError, match="magic"):
        codec.decode(b"\xc3\x01" + data[5:])


@pytest.mark.parametrize(
    ("strategy", "subject"),
    [
        ("topic_record", "t1.oms.order.commands-oms.order.commands.PlaceOrder"),
        ("record", "oms.order.commands.PlaceOrder"),
        ("topic", "t1.oms.order.commands-value"),
    ],
)
def test_subject_follows_the_naming_strategy(strategy: str, subject: str) -> None:
    ids = _Ids()
    ConfluentCodec(ids, strategy).encode(PLACE_ORDER, sample_order(), topic="t1.oms.order.commands")
    assert ids.subjects == [subject]


def test_unknown_subject_strategy_fails_when_the_codec_is_made() -> None:
    with pytest.raises(ValueError, match="topic_record, record or topic"):
        ConfluentCodec(_Ids(), "topic-name")


def test_sample_values_encode_for_every_project_schema() -> None:
    codec = SingleObjectCodec()
    for name, schema in codec.catalog.by_name.items():
        record = sample(schema.raw)
        assert codec.decode(codec.encode(name, record, topic=COMMANDS))[0] == name


def test_shared_decodes_decode_each_value_once_and_hand_out_separate_dicts() -> None:
    calls: list[bytes] = []

    class Counting(SingleObjectCodec):
        def decode(
            self, data: bytes, reader: str | None = None, *, text_uuids: bool = False
        ) -> tuple[str, dict[str, Any]]:
            calls.append(data)
            return super().decode(data, reader, text_uuids=text_uuids)

    inner = Counting()
    shared = SharedDecodes(inner, size=2)
    value = inner.encode(
        CANCEL, {"command_id": "c-1", "order_id": "o-1", "reason": "r"}, topic=COMMANDS
    )
    first = shared.decode(value)
    first[1]["reason"] = "changed by one reader"
    second = shared.decode(value)
    assert second == (CANCEL, {"command_id": "c-1", "order_id": "o-1", "reason": "r"})
    assert calls == [value]  # the second reader was served from the memo
    # Bounded: the oldest decode leaves first, and decoding still answers correctly.
    others = [
        inner.encode(
            CANCEL, {"command_id": f"c-{n}", "order_id": "o", "reason": "r"}, topic=COMMANDS
        )
        for n in range(3)
    ]
    assert [shared.decode(v)[1]["command_id"] for v in others] == ["c-0", "c-1", "c-2"]
    assert [data for data, _ in shared._memo] == others[1:]
    calls.clear()
    shared.decode(others[2])  # still held
    shared.decode(others[0])  # evicted: decoded again
    assert calls == [others[0]]
