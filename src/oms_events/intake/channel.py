"""What every channel parser provides, and helpers for reading untrusted documents.

A parser turns one delivery's bytes into a :class:`Delivery`: the record key the
channel would use and, per order, an :class:`IntakeOrder`, an :class:`IntakeCancel`
(the channel closed or cancelled it) or the :class:`Rejection` that stopped it. A
document that cannot be read at all raises a :class:`Rejection` (``intake.unparseable``).
Parsers must raise nothing else: the fuzz tests hold them to it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Protocol

from oms_events.intake import normalize as n
from oms_events.intake.charsets import decode
from oms_events.intake.errors import Code, Rejection, bad_value, missing
from oms_events.intake.model import IntakeCancel, IntakeOrder
from oms_events.intake.returns import IntakeReturn
from oms_events.intake.tables import Tables

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


@dataclass(frozen=True)
class Delivery:
    """One parsed delivery: its key and the orders or returns (or rejections) it holds."""

    key: str | None
    items: Sequence[IntakeOrder | IntakeCancel | IntakeReturn | Rejection]


class Channel(Protocol):
    """A channel format: ``name`` is the channel (``oms.intake.<name>``)."""

    name: str
    media_type: str

    def parse(self, raw: bytes, tables: Tables) -> Delivery:
        """Read one delivery; raise :class:`Rejection` only when nothing can be read."""
        ...


def read_orders(
    docs: Sequence[Any],
    list_name: str,
    id_field: str,
    read: Callable[[Mapping[str, Any], str], IntakeOrder | IntakeCancel],
    page_key: Callable[[Mapping[str, Any]], str | None] | None = None,
) -> Delivery:
    """Each order of a delivery (one order, or a page of them under ``list_name``) read
    by ``read(doc, external id)`` on its own: one bad order refuses only itself.

    The delivery is keyed by ``page_key`` of a page's first order where it names one (a
    shop: its pages then stay in order on one partition), else by the first order's id.
    """
    items: list[IntakeOrder | IntakeCancel | IntakeReturn | Rejection] = []
    key: str | None = None
    page = len(docs) > 1
    for i, doc in enumerate(docs):
        path = f"{list_name}[{i}]" if page else "$"
        try:
            doc = obj(doc, path)
            external = n.external_id(doc.get(id_field), id_field)
        except Rejection as rejection:
            items.append(rejection)
            continue
        if key is None:
            key = (page_key(doc) if page and page_key else None) or external
        try:
            order = read(doc, external)
            items.append(replace(order, position=path) if page else order)
        except Rejection as rejection:
            items.append(rejection.for_order(external))
    return Delivery(key, items)


def unparseable(what: str, detail: str, detail_zh: str) -> Rejection:
    """The whole document is unreadable."""
    return Rejection(
        Code.UNPARSEABLE,
        "$",
        f"not a readable {what}: {detail[:160]}",
        f"无法解析的{what}文档：{detail_zh[:160]}",
    )


def load_json(raw: bytes) -> Any:
    """Parse JSON with every number kept exact (Decimal), never as float."""
    text = decode(raw, "JSON")
    try:
        doc = json.loads(text, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and over-long integers.
        raise unparseable("JSON", str(exc), str(exc)) from None
    _no_lone_surrogates(doc)
    return doc


def _no_lone_surrogates(doc: Any) -> None:
    # JSON may escape half a UTF-16 pair ("\ud800"): json.loads keeps it as a lone
    # surrogate, which no UTF-8 encoder (Avro, PostgreSQL, the dedup hash) accepts.
    pending = [doc]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise unparseable(
                    "JSON",
                    f"a string holds a lone surrogate: {value[:40]!r}",
                    "字符串含有孤立代理字符",
                ) from None
        elif isinstance(value, Mapping):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


def obj(value: Any, path: str) -> Mapping[str, Any]:
    """``value`` as a JSON object, or ``intake.missing_field`` / ``intake.bad_value``."""
    if value is None:
        raise missing(path)
    if not isinstance(value, Mapping):
        raise bad_value(path, value, "an object", "对象")
    return value


def opt_obj(value: Any, path: str) -> Mapping[str, Any]:
    """Like :func:`obj`, with an absent value read as empty."""
    return {} if value is None else obj(value, path)


def array(value: Any, path: str) -> list[Any]:
    """``value`` as a non-empty JSON array."""
    if value is None:
        raise missing(path)
    if not isinstance(value, list):
        raise bad_value(path, value, "a list", "数组")
    if not value:
        raise Rejection(
            Code.MISSING_FIELD, path, f"{path} has no lines", f"{path} 没有任何商品明细"
        )
    return value


def timestamp(value: Any, path: str, default_zone: timezone = CHINA) -> datetime:
    """ISO 8601 or ``YYYY-MM-DD HH:MM:SS``; a time without zone is the channel's local time.

    Whole numbers are Unix seconds (Douyin's ``create_time``, ``pay_time``).
    """
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        if not (946684800 <= value <= 4102444800) or value != int(value):  # 2000 .. 2100
            raise bad_value(path, value, "Unix seconds between 2000 and 2100", "Unix 秒时间戳")
        return datetime.fromtimestamp(int(value), default_zone)
    if not isinstance(value, str) or not value.strip():
        raise missing(path) if value in (None, "") else bad_value(path, value, "a time", "时间")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise bad_value(path, value, "a time like 2024-06-18 10:21:33", "时间格式") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=default_zone)
    if not 2000 <= moment.year <= 2100:
        raise bad_value(path, value, "a time between 2000 and 2100", "2000-2100 年之间的时间")
    return moment
