"""The dead-letter contract: what a writer puts in headers, a reader gets back."""

from __future__ import annotations

from oms_events import deadletter
from oms_events.deadletter import DeadLetter, Reason, Source


def test_headers_round_trip_with_context_and_original_headers() -> None:
    letter = DeadLetter(
        Reason("intake.bad_phone", "receiver_mobile", "bad phone", "电话号码无效", "Rejection"),
        Source("oms.intake.tmall", 2, 41),
        "intake",
        {"channel": "tmall", "external_id": "389", "position": ""},
    )
    headers = letter.headers([("traceparent", b"00-ab")])
    assert ("original.traceparent", b"00-ab") in headers
    assert dict(headers)["dlq.message.zh"] == "电话号码无效".encode()
    # An empty context value is not written, so it reads back absent.
    assert deadletter.read(headers) == DeadLetter(
        letter.reason, letter.source, "intake", {"channel": "tmall", "external_id": "389"}
    )


def test_reading_headers_of_no_writer_gives_empty_reason_not_an_error() -> None:
    letter = deadletter.read([("dlq.source.offset", b"x"), ("other", b"1")])
    assert letter.reason.code == "" and letter.source.offset == -1 and letter.context == {}


def test_technical_reasons_name_the_field_or_the_whole_input() -> None:
    missing = deadletter.technical("projection.fold", KeyError("gift_wrap"))
    assert (missing.field, missing.error_class) == ("gift_wrap", "KeyError")
    assert missing.en.startswith("the projection cannot apply the event")
    whole = deadletter.technical("decode.error", ValueError("no marker"))
    assert whole.field == "$" and whole.zh.endswith("no marker")


def test_long_messages_are_cut() -> None:
    reason = deadletter.technical("engine.error", RuntimeError("x" * 5000))
    headers = dict(DeadLetter(reason, Source("t"), "engine.order").headers())
    assert len(headers["dlq.message.en"].decode()) == deadletter.MESSAGE_LIMIT
