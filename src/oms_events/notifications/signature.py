"""Signed webhooks: HMAC-SHA256 over the timestamp and the body, as subscribers check it.

The subscriber computes ``hex(HMAC-SHA256(secret, f"{timestamp}." + body))`` with the
``X-OMS-Timestamp`` header and the raw body, compares it in constant time with
``X-OMS-Signature`` (``sha256=<hex>``) and refuses a timestamp older than its
tolerance (a replayed request). ``Idempotency-Key`` repeats on every retry of the same
message, so a subscriber that saw it already answers 2xx and does nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

TIMESTAMP = "X-OMS-Timestamp"
SIGNATURE = "X-OMS-Signature"
IDEMPOTENCY_KEY = "Idempotency-Key"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-OMS-Signature`` value of ``body`` sent at ``timestamp`` (Unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def headers(secret: str, timestamp: int, body: bytes, key: str) -> dict[str, str]:
    """Every header a webhook request carries."""
    return {
        "Content-Type": "application/json; charset=utf-8",
        TIMESTAMP: str(timestamp),
        SIGNATURE: sign(secret, timestamp, body),
        IDEMPOTENCY_KEY: key,
    }


def verify(
    secret: str, received: Mapping[str, str], body: bytes, now: int, tolerance_s: int = 300
) -> bool:
    """True when ``received`` headers sign ``body`` with ``secret`` and the timestamp is
    within ``tolerance_s`` of ``now``: what a subscriber runs on each request."""
    lower = {k.lower(): v for k, v in received.items()}
    try:
        timestamp = int(lower[TIMESTAMP.lower()])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), lower.get(SIGNATURE.lower(), ""))
