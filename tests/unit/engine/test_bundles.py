"""Command bundles (engine/bundles.py): what a transaction sends, packed and read back.

What a reader must see is what it would have seen without bundles: per partition, the
same commands in the same order, each with its key and its ``command`` header; and
nothing else moved.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from oms_events.avro.codec import SingleObjectCodec
from oms_events.engine import bundles
from oms_events.engine.commands import ReceiveStock
from oms_events.engine.outbox import Outbox
from oms_events.engine.records import CommandWriter, Outgoing
from oms_events.kafka.port import Record
from oms_events.settings import Settings

CODEC = SingleObjectCodec()
SETTINGS = Settings().replace(kafka={"topic_prefix": "", "partitions": 6})


def _command(n: int, partition: int, topic: str = "oms.inventory.commands") -> Outgoing:
    return Outgoing(topic, f"k{n}".encode(), f"value {n}".encode(), [("command", b"X")], partition)


def _other(n: int, partition: int, topic: str = "oms.inventory.commands") -> Outgoing:
    # A forwarded record or a dead letter: headers of its own, never bundled.
    return Outgoing(topic, f"o{n}".encode(), f"other {n}".encode(), [("h", b"1")], partition)


def _read(records: list[Outgoing]) -> dict[tuple[str, int | None], list[tuple[Any, ...]]]:
    """What each partition's reader sees: the records, a bundle's parts in its place."""
    seen: dict[tuple[str, int | None], list[tuple[Any, ...]]] = defaultdict(list)
    for offset, o in enumerate(records):
        record = Record(o.topic, o.partition or 0, offset, o.key, o.value, o.headers, 0)
        for part in bundles.parts(CODEC, record):
            seen[(o.topic, o.partition)].append((part.key, part.value, list(part.headers)))
    return seen


def test_commands_to_one_partition_go_as_one_record_where_the_first_was() -> None:
    records = [_command(1, 0), _other(2, 1), _command(3, 0), _command(4, 2)]
    packed = bundles.pack(records, {0, 2, 3}, CODEC, limit=10_000)
    assert [o.headers for o in packed] == [[bundles.HEADER], [("h", b"1")], [("command", b"X")]]
    assert packed[2] is records[3]  # alone on its partition: sent as itself
    assert _read(packed) == _read(records)


def test_another_record_to_the_partition_closes_the_bundle() -> None:
    # A forwarded command between two follow-ups: the reader must see it in between.
    records = [_command(1, 0), _command(2, 0), _other(3, 0), _command(4, 0), _command(5, 0)]
    packed = bundles.pack(records, {0, 1, 3, 4}, CODEC, limit=10_000)
    assert len(packed) == 3
    assert _read(packed) == _read(records)


def test_a_bundle_stays_under_its_limit() -> None:
    records = [_command(n, 0) for n in range(100)]
    packed = bundles.pack(records, range(100), CODEC, limit=1_000)
    assert len(packed) > 1
    assert all(len(o.value or b"") <= 1_000 for o in packed)
    assert _read(packed) == _read(records)


def test_a_bundle_that_does_not_decode_is_read_as_itself() -> None:
    # The step then dead-letters it whole (decode.error): never dropped.
    broken = Record("t", 0, 7, b"k", b"\xc3\x01garbage", [bundles.HEADER], 0)
    assert bundles.parts(CODEC, broken) == [broken]
    plain = Record("t", 0, 8, b"k", b"v", [("command", b"X")], 0)
    assert bundles.parts(CODEC, plain) == [plain]


def test_an_outbox_bundles_its_follow_up_commands_only() -> None:
    out = Outbox(SETTINGS, CODEC)
    receipts = [
        ReceiveStock(command_id=f"r{n}", sku="TEA", location="SH", quantity=n, reason="po")
        for n in range(1, 4)
    ]
    for receipt in receipts:
        out.command(receipt)
    forwarded = CommandWriter(SETTINGS, CODEC).record(receipts[0])
    out.add(forwarded)  # added, not sent as a follow-up: stays a record of its own
    sent = out.bundled()
    assert len(sent) == 2
    assert sent[0].headers == [bundles.HEADER]
    assert sent[1] is forwarded
    record = Record(
        sent[0].topic, sent[0].partition or 0, 0, sent[0].key, sent[0].value, [bundles.HEADER], 0
    )
    parts = bundles.parts(CODEC, record)
    assert [p.value for p in parts] == [o.value for o in out.records[:3]]
    assert [p.key for p in parts] == [o.key for o in out.records[:3]]
    assert [p.headers for p in parts] == [[("command", b"ReceiveStock")]] * 3


_RECORD = st.tuples(st.booleans(), st.integers(0, 2), st.sampled_from(["a", "b"]))


@given(st.lists(_RECORD, max_size=40), st.integers(80, 600))
def test_every_partition_reads_what_it_would_have_read_unbundled(
    shape: list[tuple[bool, int, str]], limit: int
) -> None:
    records = [
        (_command if follow_up else _other)(n, partition, topic)
        for n, (follow_up, partition, topic) in enumerate(shape)
    ]
    commands = {n for n, (follow_up, _, _) in enumerate(shape) if follow_up}
    packed = bundles.pack(records, commands, CODEC, limit)
    assert _read(packed) == _read(records)
    assert len(packed) <= len(records)
