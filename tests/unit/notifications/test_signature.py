"""Webhook signatures: what a subscriber checks."""

from __future__ import annotations

from oms_events.notifications.signature import headers, sign, verify


def test_a_signed_request_verifies_and_a_changed_one_does_not() -> None:
    body = b'{"step": "shipped"}'
    h = headers("s3cret", 1_700_000_000, body, "k1")
    assert h["Idempotency-Key"] == "k1"
    assert verify("s3cret", h, body, now=1_700_000_010)
    assert not verify("s3cret", h, body + b" ", now=1_700_000_010)
    assert not verify("other", h, body, now=1_700_000_010)


def test_a_replayed_request_past_the_tolerance_is_refused() -> None:
    body = b"{}"
    h = headers("s3cret", 1_700_000_000, body, "k1")
    assert not verify("s3cret", h, body, now=1_700_000_000 + 301)


def test_the_timestamp_is_part_of_what_is_signed() -> None:
    assert sign("s", 1, b"x") != sign("s", 2, b"x")
    assert sign("s", 1, b"x").startswith("sha256=")
