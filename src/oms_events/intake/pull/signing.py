"""Request signatures of the marketplaces' open platforms (pure functions).

* Taobao TOP (``sign_method=md5``): MD5 of ``secret + k1v1k2v2… + secret`` over every
  parameter but ``sign``, sorted by name, upper-case hex; ``sign_method=hmac``: HMAC-MD5
  of ``k1v1k2v2…`` keyed with the secret.
* JD JOS and Pinduoduo: the TOP MD5 form (``secret + sorted k+v + secret``, upper hex).
* Douyin (抖店): ``secret + "app_key"… + "method"… + "param_json"… + "timestamp"… + "v"…
  + secret``, HMAC-SHA256 keyed with the secret (``sign_method=hmac-sha256``), lower hex;
  ``param_json`` is the business parameters as JSON with keys sorted, no spaces.

Sources are cited in ``tests/fixtures/channels/<platform>/README.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any


def _pairs(params: Mapping[str, str]) -> str:
    # Empty values take no part, as the platforms' SDKs leave them out of the request.
    return "".join(f"{k}{params[k]}" for k in sorted(params) if k != "sign" and params[k] != "")


def top_sign(params: Mapping[str, str], secret: str, method: str = "md5") -> str:
    """Taobao TOP's ``sign`` (``method``: ``md5`` or ``hmac``); JD and Pinduoduo use md5."""
    text = _pairs(params)
    if method == "hmac":
        return hmac.new(secret.encode(), text.encode(), hashlib.md5).hexdigest().upper()
    if method != "md5":
        raise ValueError(f"unknown sign_method {method!r}; use md5 or hmac")
    return hashlib.md5((secret + text + secret).encode()).hexdigest().upper()


def param_json(params: Any) -> str:
    """Business parameters as JSON, keys sorted, no spaces (Douyin's ``param_json``,
    JD's ``360buy_param_json``, Pinduoduo's JSON-valued parameters)."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def douyin_sign(
    app_key: str, method: str, params_json: str, timestamp: str, v: str, secret: str
) -> str:
    """Douyin's ``sign`` (``sign_method=hmac-sha256``)."""
    pattern = (
        f"{secret}app_key{app_key}method{method}param_json{params_json}"
        f"timestamp{timestamp}v{v}{secret}"
    )
    return hmac.new(secret.encode(), pattern.encode(), hashlib.sha256).hexdigest()
