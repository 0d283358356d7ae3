"""The outbox of one transaction: a command whose output is dropped (it would make a
record over kafka.max_record_bytes) leaves nothing of itself behind, not even in the
reply to an order that an earlier command of the transaction had already answered."""

from __future__ import annotations

import uuid
from typing import Any

from oms_events.avro.codec import SingleObjectCodec
from oms_events.engine.commands import ReservationAnswer
from oms_events.engine.outbox import Outbox
from oms_events.engine.records import Outgoing
from oms_events.settings import Settings

CODEC = SingleObjectCodec()
SETTINGS = Settings().replace(kafka={"topic_prefix": "", "partitions": 6})
ORDER = uuid.UUID("00000000-0000-4000-8000-000000000001")


def _answer(line_no: int, sku: str = "TEA") -> ReservationAnswer:
    return ReservationAnswer(
        line_no=line_no,
        reservation_id=uuid.uuid4(),
        sku=sku,
        location="SH",
        quantity=1,
        outcome="reserved",
    )


def _reply(out: Outbox) -> dict[str, Any]:
    """The one ReservationsAnswered record queued, as its fields."""
    (only,) = [r for r in out.records if r.headers == [("command", b"ReservationsAnswered")]]
    return CODEC.decode(only.value or b"")[1]


def test_a_dropped_command_gives_back_the_reply_it_joined() -> None:
    out = Outbox(SETTINGS, CODEC)
    out.answer(ORDER, [_answer(1)], "cmd-1")  # the first command of the transaction
    mark = len(out.records)
    out.answer(ORDER, [_answer(2)], "cmd-2")  # the next one joins its reply in place...
    out.add(Outgoing("oms.order.events", b"k", b"x" * 5000, [], 0))  # ...and is too big
    assert out.oversized(mark, 4000) == 5000
    out.truncate(mark)
    assert len(out.records) == mark
    assert [a["line_no"] for a in _reply(out)["answers"]] == [1]
    out.answer(ORDER, [_answer(3)], "cmd-3")  # a later command joins the restored reply
    assert [a["line_no"] for a in _reply(out)["answers"]] == [1, 3]
    assert len(out.bundled()) == 1


def test_a_reply_grown_over_the_limit_is_seen_as_oversized() -> None:
    # The record a command rewrote sits before its mark: it counts as its output.
    out = Outbox(SETTINGS, CODEC)
    out.answer(ORDER, [_answer(1)], "cmd-1")
    before = len(out.records[0].value or b"")
    mark = len(out.records)
    out.answer(ORDER, [_answer(n, "S" * 200) for n in range(2, 12)], "cmd-2")
    grown = len(out.records[0].value or b"")
    assert grown > before + 2000
    assert out.oversized(mark, before + 1000) == grown
    assert out.oversized(mark, grown) == 0
    out.truncate(mark)
    assert len(out.records[0].value or b"") == before
