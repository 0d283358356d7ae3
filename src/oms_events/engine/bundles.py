"""Command bundles: the follow-up commands one transaction sends to one partition, in
one Kafka record.

Under load one transaction of the order processor handles dozens of orders, and for
each it sends a ReserveLines to every inventory partition its lines live on, a
CapturePayment, a CreateShipment; the inventory answers each order with a
ReservationsAnswered. As records of their own, each costs a produce and a consume in
both clients and a record on the broker, ~4 of the ~11 records of a 2-line order. A
bundle carries every such command a transaction sends to one partition of one command
topic, in the order they were sent (``schemas/engine/CommandBundle.avsc``); the reader
handles each part as the record it stands for: the same routing, deduplication,
refusals and dead letters, a part's dead letter holding the part's own bytes so an
operator replays one command, not its neighbours. A transaction sending one command to
a partition sends it as itself: at a low rate nothing changes on the wire.

Only commands the engine's services send (``Outbox.command``, ``Outbox.answer``) are
bundled, never events (the system of record, read per aggregate by readers we did not
write), nor what the intake writes (one PlaceOrder per accepted order, as a sender's
lookup and the what-if read it).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from oms_events import eventlog
from oms_events.avro.codec import Codec, DecodeError
from oms_events.engine.records import Outgoing
from oms_events.kafka.port import Record

BUNDLE = "oms.engine.CommandBundle"
HEADER = ("command", b"CommandBundle")
# Per part: Avro's lengths of name, key and value, and the name itself (≤ 40 bytes).
_PART_OVERHEAD = 64


def pack(
    records: Sequence[Outgoing], commands: Collection[int], codec: Codec, limit: int
) -> list[Outgoing]:
    """``records`` as they go out: the commands among them (their indices in
    ``commands``) gathered per topic and partition into bundles of at most ``limit``
    bytes, each where its first command was; every other record unchanged, in order.

    A record that is not a bundled command (a forwarded command, a dead letter) ends
    the bundle open for its partition, so the order of the records each partition
    receives is the order they were queued in.
    """
    out: list[Outgoing | list[Outgoing]] = []
    open_: dict[tuple[str, int | None], tuple[list[Outgoing], int]] = {}
    for index, record in enumerate(records):
        where = (record.topic, record.partition)
        if index not in commands or record.partition is None or record.value is None:
            open_.pop(where, None)
            out.append(record)
            continue
        size = len(record.value) + len(record.key or b"") + _PART_OVERHEAD
        group, used = open_.get(where, (None, 0))
        if group is None or used + size > limit:
            group, used = [], 0
            out.append(group)
        group.append(record)
        open_[where] = (group, used + size)
    return [item if isinstance(item, Outgoing) else _bundle(item, codec) for item in out]


def _bundle(group: list[Outgoing], codec: Codec) -> Outgoing:
    first = group[0]
    if len(group) == 1:
        return first
    parts = [
        {"name": eventlog.header(r.headers, "command") or "", "key": r.key or b"", "value": r.value}
        for r in group
    ]
    value = codec.encode(BUNDLE, {"parts": parts}, topic=first.topic)
    # Keyed by the first part: every part's key hashes to this partition anyway.
    return Outgoing(first.topic, first.key, value, [HEADER], first.partition)


def parts(codec: Codec, record: Any) -> list[Any]:
    """The records ``record`` stands for: its parts if it is a bundle, else itself.

    A bundle that does not decode comes back as itself, for the step to dead-letter
    whole (``decode.error``): bad input is never dropped here.
    """
    if HEADER not in (record.headers or ()):
        return [record]
    try:
        _, bundle = codec.decode(record.value)
        return [
            Record(
                record.topic,
                record.partition,
                record.offset,
                part["key"],
                part["value"],
                [("command", part["name"].encode())],
                getattr(record, "timestamp", 0),
            )
            for part in bundle["parts"]
        ]
    except (DecodeError, KeyError, TypeError):
        return [record]
