"""Which format a record of ``oms.carrier.updates`` is in, and its scans.

A record names its format by its ``format`` header (``sf``, ``zto``, ``jd``,
``generic``; ``oms carrier push`` sets it). Without the header the shape decides, in
this order: XML or a JSON ``Body``/``WaybillRoute`` is SF; a JSON ``"format"`` field
names the format; ``billCode`` is ZTO-style; ``waybillCode``/``b2bLwbTrack`` is JD;
``tracking_no`` is generic. The header wins because carriers' shapes can grow to
resemble each other; the shape is the fallback for carriers that cannot set headers.
A ``carrier`` header names the carrier of a ZTO-style push (YTO, STO).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from oms_events.carriers import generic, jd, sf, zto
from oms_events.carriers.scan import PushRefused, Scan

FORMATS: tuple[str, ...] = ("sf", "zto", "jd", "generic")


def header(headers: Iterable[tuple[str, bytes]] | None, name: str) -> str | None:
    """A header's value as text, or None."""
    for key, value in headers or ():
        if key == name and value is not None:
            return value.decode(errors="replace").strip().lower() or None
    return None


def detect(raw: bytes, headers: Iterable[tuple[str, bytes]] | None = None) -> str:
    """The format of a push (see the module doc); PushRefused when none fits."""
    named = header(headers, "format")
    if named is not None:
        if named not in FORMATS:
            raise _unknown(f"the format header says {named!r}")
        return named
    body = raw.lstrip()
    if body.startswith(b"<"):
        return "sf"
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _unknown("the push is neither JSON nor XML") from None
    first = data[0] if isinstance(data, list) and data else data
    if isinstance(first, dict):
        if "Body" in first or "WaybillRoute" in first:
            return "sf"
        named = str(first.get("format", "")).lower()
        if named in FORMATS:
            return named
        if "billCode" in first or "traces" in first:
            return "zto"
        if "waybillCode" in first or "b2bLwbTrack" in first:
            return "jd"
        if "tracking_no" in first:
            return "generic"
    raise _unknown("its shape matches no known carrier format")


def parse(raw: bytes | None, headers: Iterable[tuple[str, bytes]] | None = None) -> list[Scan]:
    """The scans of one push record; PushRefused when it cannot be read."""
    if not raw:
        raise PushRefused("carrier.malformed", "$", "the push is empty", "推送内容为空")
    fmt = detect(raw, headers)
    parsers: dict[str, Callable[[bytes], list[Scan]]] = {
        "sf": sf.parse,
        "zto": lambda body: zto.parse(body, header(headers, "carrier")),
        "jd": jd.parse,
        "generic": generic.parse,
    }
    return parsers[fmt](raw)


def _unknown(why: str) -> PushRefused:
    return PushRefused(
        "carrier.format_unknown",
        "$",
        f"unknown carrier push format: {why}; set the header format=sf|zto|jd|generic",
        f"无法识别的承运商推送格式：{why}；请设置消息头 format=sf|zto|jd|generic",
    )
