"""Signed channel requests: the signature, replays, stale timestamps, the rate limit."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oms_events.api.channel_keys import ChannelGuard, KeyRefused, RateLimit, sign, signed_headers

SECRET = "s3cr3t"
NOW = 1_800_000_000.0


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    # printf '1800000000.{"a":1}' | openssl dgst -sha256 -hmac s3cr3t
    assert sign(SECRET, "1800000000", b'{"a":1}') == (
        "7d13152177cb34e9be8a2155ecc409f068860dcd7a1967a438b38cf5b8923084"
    )


class Keys:
    """The api_key table as the guard reads it."""

    def __init__(self, **keys: tuple[str, str]) -> None:
        self.keys = keys

    def row(self, query: str, key_id: str) -> dict[str, Any] | None:
        found = self.keys.get(key_id)
        return {"channel": found[0], "secret": found[1]} if found else None


def guard(burst: int = 100) -> ChannelGuard:
    return ChannelGuard(
        Keys(k1=("web", SECRET)),  # type: ignore[arg-type]
        max_age_s=300,
        rate=RateLimit(per_s=1.0, burst=burst, clock=lambda: 0.0),
        clock=lambda: NOW,
    )


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def refused(g: ChannelGuard, channel: str, headers: dict[str, str], body: bytes) -> KeyRefused:
    with pytest.raises(KeyRefused) as caught:
        g.check(channel, lower(headers), body)
    return caught.value


def test_a_replayed_request_is_refused() -> None:
    g = guard()
    headers = signed_headers("k1", SECRET, b"{}", now=NOW)
    assert g.check("web", lower(headers), b"{}") == "k1"
    again = refused(g, "web", headers, b"{}")
    assert (again.status, again.code) == (401, "auth.replayed")


@pytest.mark.parametrize("age_s", [301, -301, 86_400])
def test_a_stale_or_future_timestamp_is_refused(age_s: int) -> None:
    headers = signed_headers("k1", SECRET, b"{}", now=NOW - age_s)
    assert refused(guard(), "web", headers, b"{}").code == "auth.stale"


def test_unsigned_unknown_and_other_channel_keys_are_refused() -> None:
    g = guard()
    assert refused(g, "web", {}, b"{}").code == "auth.unsigned"
    unknown = signed_headers("nope", SECRET, b"{}", now=NOW)
    assert refused(g, "web", unknown, b"{}").code == "auth.unknown_key"
    other = refused(g, "tmall", signed_headers("k1", SECRET, b"{}", now=NOW), b"{}")
    assert (other.status, other.code) == (403, "auth.other_channel")


@given(body=st.binary(max_size=200), flip=st.integers(min_value=0, max_value=199))
def test_any_change_to_the_body_breaks_the_signature(body: bytes, flip: int) -> None:
    headers = signed_headers("k1", SECRET, body, now=NOW)
    changed = bytearray(body + b"x")
    changed[flip % len(changed)] ^= 0x01
    assert refused(guard(), "web", headers, bytes(changed)).code == "auth.bad_signature"


def test_the_rate_limit_lets_a_burst_through_then_asks_to_wait() -> None:
    now = [0.0]
    rate = RateLimit(per_s=2.0, burst=3, clock=lambda: now[0])
    assert [rate.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rate.take("k") == pytest.approx(0.5)
    assert rate.take("other") == 0.0  # per key
    now[0] = 0.5
    assert rate.take("k") == 0.0


def test_over_the_rate_the_refusal_says_when_to_retry() -> None:
    g = guard(burst=1)
    g.check("web", lower(signed_headers("k1", SECRET, b"1", now=NOW)), b"1")
    limited = refused(g, "web", signed_headers("k1", SECRET, b"2", now=NOW), b"2")
    assert (limited.status, limited.retry_after_s) == (429, 1)
