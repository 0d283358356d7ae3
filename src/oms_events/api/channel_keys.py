"""Channels' keys: every intake request is signed, a replay is refused, and each key is
rate-limited.

A channel integration holds a key id and a secret (``oms user key CHANNEL``). It sends

=====================  ==========================================================
``X-OMS-Key``          the key id
``X-OMS-Timestamp``    the time of sending, Unix seconds
``X-OMS-Signature``    hex HMAC-SHA256 with the secret over ``<timestamp>.<body>``
                       (the timestamp's digits, a dot, the body's bytes as sent)
=====================  ==========================================================

Refused with 401: a missing header, an unknown or revoked key, a wrong signature, a
timestamp further than ``api.signature_max_age_s`` from the server's clock (stale), or
a signature this server already took (replayed: a resend must be signed afresh, with
a new timestamp). 403: the key is another channel's. 429 with ``Retry-After``: the key
sent more than ``api.intake_burst`` at once or ``api.intake_rate_per_s`` on average.

Replays are remembered per server process, for as long as the timestamp is fresh;
with several intake servers behind a balancer a replay to another one is caught only
by the stale-timestamp rule (and the intake's dedup still makes one order of it).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from oms_events.api.database import Database

KEY = "x-oms-key"
TIMESTAMP = "x-oms-timestamp"
SIGNATURE = "x-oms-signature"
_CACHE_S = 10.0  # a revoked key stops working within this


class KeyRefused(Exception):
    """The request is not let in: ``status`` (401, 403, 429) and why."""

    def __init__(
        self, status: int, code: str, en: str, zh: str, retry_after_s: int | None = None
    ) -> None:
        super().__init__(en)
        self.status = status
        self.code = code
        self.en = en
        self.zh = zh
        self.retry_after_s = retry_after_s


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-OMS-Signature of ``body`` sent at ``timestamp`` (what a channel computes)."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signed_headers(
    key_id: str, secret: str, body: bytes, now: float | None = None
) -> dict[str, str]:
    """The three headers of a request carrying ``body``, signed now."""
    timestamp = str(int(now if now is not None else time.time()))
    return {
        "X-OMS-Key": key_id,
        "X-OMS-Timestamp": timestamp,
        "X-OMS-Signature": sign(secret, timestamp, body),
    }


def add_key(db: Database, channel: str, by: str) -> tuple[str, str]:
    """Make a key for ``channel``: (key id, secret). The secret is shown once."""
    key_id = f"ck_{channel}_{secrets.token_hex(6)}"
    secret = secrets.token_hex(32)
    db.execute(
        "INSERT INTO api_key (key_id, channel, secret, created_by) VALUES (%s, %s, %s, %s)",
        key_id,
        channel,
        secret,
        by,
    )
    return key_id, secret


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimit:
    """A token bucket per key: ``burst`` at once, refilled at ``per_s``."""

    def __init__(self, per_s: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.per_s = per_s
        self.burst = burst
        self.clock = clock
        self.buckets: dict[str, _Bucket] = {}
        self.lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when ``key`` may go now (one token taken), else the seconds to wait."""
        with self.lock:
            now = self.clock()
            b = self.buckets.setdefault(key, _Bucket(float(self.burst), now))
            b.tokens = min(float(self.burst), b.tokens + (now - b.at) * self.per_s)
            b.at = now
            if b.tokens >= 1:
                b.tokens -= 1
                return 0.0
            return (1 - b.tokens) / self.per_s


class ChannelGuard:
    """Lets a signed request of a channel's key in, or raises KeyRefused."""

    def __init__(
        self,
        db: Database,
        max_age_s: int,
        rate: RateLimit,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.max_age_s = max_age_s
        self.rate = rate
        self.clock = clock
        self.seen: dict[str, float] = {}  # signature -> when it stops being fresh
        self.keys: dict[str, tuple[float, tuple[str, str] | None]] = {}
        self.lock = threading.Lock()

    def _key(self, key_id: str) -> tuple[str, str] | None:
        # (channel, secret) of a live key, cached briefly: intake should not wait on
        # PostgreSQL for every order.
        now = time.monotonic()
        cached = self.keys.get(key_id)
        if cached and cached[0] > now:
            return cached[1]
        row = self.db.row(
            "SELECT channel, secret FROM api_key WHERE key_id = %s AND revoked_at IS NULL",
            key_id,
        )
        found = (row["channel"], row["secret"]) if row else None
        self.keys[key_id] = (now + _CACHE_S, found)
        return found

    def check(self, channel: str, headers: Mapping[str, str], body: bytes) -> str:
        """The key id when the request is signed by a live key of ``channel``, fresh
        and not seen before; else KeyRefused."""
        key_id, stamp, signature = (headers.get(h, "") for h in (KEY, TIMESTAMP, SIGNATURE))
        if not (key_id and stamp and signature):
            raise KeyRefused(
                401,
                "auth.unsigned",
                "sign the request: X-OMS-Key, X-OMS-Timestamp and X-OMS-Signature are required",
                "请求须签名：需要 X-OMS-Key、X-OMS-Timestamp 和 X-OMS-Signature 请求头",
            )
        key = self._key(key_id)
        if key is None:
            raise KeyRefused(
                401,
                "auth.unknown_key",
                f"X-OMS-Key {key_id!r} is unknown or revoked; ask for a key (oms user key)",
                f"X-OMS-Key {key_id!r} 不存在或已吊销",
            )
        if not hmac.compare_digest(sign(key[1], stamp, body), signature.lower()):
            raise KeyRefused(
                401,
                "auth.bad_signature",
                "X-OMS-Signature does not match: HMAC-SHA256 of '<timestamp>.<body>' in hex",
                "X-OMS-Signature 不匹配：应为 '<时间戳>.<请求体>' 的 HMAC-SHA256 十六进制",
            )
        now = self.clock()
        if not stamp.isdigit() or abs(now - int(stamp)) > self.max_age_s:
            raise KeyRefused(
                401,
                "auth.stale",
                f"X-OMS-Timestamp is more than {self.max_age_s} s from the server's clock: "
                "sign again with the current time",
                f"X-OMS-Timestamp 与服务器时间相差超过 {self.max_age_s} 秒，请用当前时间重新签名",
            )
        with self.lock:
            self.seen = {s: until for s, until in self.seen.items() if until > now}
            if signature in self.seen:
                raise KeyRefused(
                    401,
                    "auth.replayed",
                    "this signed request was already received: sign a resend afresh",
                    "该签名请求已收到过（重放）：重发请重新签名",
                )
            self.seen[signature] = int(stamp) + self.max_age_s
        if key[0] != channel:
            raise KeyRefused(
                403,
                "auth.other_channel",
                f"the key is {key[0]}'s, not {channel}'s",
                f"该密钥属于渠道 {key[0]}，不能用于 {channel}",
            )
        wait = self.rate.take(key_id)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise KeyRefused(
                429,
                "auth.rate_limited",
                f"too many requests for this key: send again in {seconds} s",
                f"该密钥请求过多，请 {seconds} 秒后重试",
                retry_after_s=seconds,
            )
        return key_id
