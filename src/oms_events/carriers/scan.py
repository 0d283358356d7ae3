"""What every carrier push becomes: a :class:`Scan`, and why a push is refused.

A scan is one tracking event of one parcel in our words: its carrier (a code of
:data:`CARRIERS`), tracking number, one of five statuses, when it happened and where.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal, get_args

ScanStatus = Literal[
    "in_transit", "out_for_delivery", "delivered", "delivery_failed", "returned_to_sender"
]
STATUSES: tuple[str, ...] = get_args(ScanStatus)

# Chinese carriers push wall-clock times of China without an offset.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")

# Our carrier codes, and the names warehouses and carriers call them by.
CARRIERS: dict[str, str] = {
    "SF": "SF",
    "SFEXPRESS": "SF",
    "SF-EXPRESS": "SF",
    "SF EXPRESS": "SF",
    "顺丰": "SF",
    "顺丰速运": "SF",
    "ZTO": "ZTO",
    "中通": "ZTO",
    "中通快递": "ZTO",
    "YTO": "YTO",
    "圆通": "YTO",
    "圆通速递": "YTO",
    "STO": "STO",
    "申通": "STO",
    "申通快递": "STO",
    "YUNDA": "YUNDA",
    "韵达": "YUNDA",
    "JD": "JD",
    "JDL": "JD",
    "京东": "JD",
    "京东物流": "JD",
    "京东快递": "JD",
    "EMS": "EMS",
}


def carrier_code(name: str) -> str:
    """Our code for a carrier name (``顺丰`` -> ``SF``); an unknown name, upper-cased."""
    cleaned = name.strip()
    return CARRIERS.get(cleaned.upper(), CARRIERS.get(cleaned, cleaned.upper()))


class PushRefused(ValueError):
    """A push (or one scan of it) that cannot be read: a code, the field at fault, and
    what an operator reads in en and zh. The carrier adapter dead-letters it."""

    def __init__(self, code: str, field: str, en: str, zh: str) -> None:
        super().__init__(f"{code} at {field}: {en}")
        self.code = code
        self.field = field
        self.en = en
        self.zh = zh


def malformed(field: str, en: str, zh: str) -> PushRefused:
    """The push is not of the shape its format documents."""
    return PushRefused("carrier.malformed", field, en, zh)


def missing(field: str) -> PushRefused:
    """A required field is absent or empty."""
    return PushRefused(
        "carrier.missing_field",
        field,
        f"{field} is missing or empty; the carrier's push must carry it",
        f"缺少字段 {field} 或为空；承运商推送必须包含该字段",
    )


@dataclass(frozen=True, kw_only=True)
class Scan:
    """One tracking event of one parcel, normalized."""

    carrier: str
    tracking_no: str
    status: ScanStatus
    occurred_at: datetime
    location: str | None = None
    reason: str | None = None  # why a delivery failed or the parcel goes back
    eta: datetime | None = None
    signer: str | None = None
    cod_amount: int | None = None  # minor units collected at the door
    cod_currency: str | None = None
    note: str | None = None  # the carrier's own words (remark, desc)


def text(data: dict[str, Any], *names: str) -> str | None:
    """The first non-empty string among ``names`` of ``data`` (numbers as text)."""
    for name in names:
        value = data.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def required(data: dict[str, Any], field: str, *aliases: str, path: str = "") -> str:
    """The non-empty string ``field`` (or an alias) of ``data``; PushRefused otherwise."""
    value = text(data, field, *aliases)
    if value is None:
        raise missing(f"{path}{field}")
    return value


_WALL_CLOCK = ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M")


def moment(value: Any, field: str, local: timezone = CHINA) -> datetime:
    """A carrier's time: ISO 8601, a wall-clock ``2024-06-18 10:00:00`` (China time
    unless it says otherwise) or epoch milliseconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, str) and value.strip():
        raw = value.strip()
        if raw.isdigit():
            return datetime.fromtimestamp(int(raw) / 1000, UTC)
        for fmt in _WALL_CLOCK:
            try:
                return datetime.strptime(raw, fmt).replace(tzinfo=local)
            except ValueError:
                pass
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=local)
    raise PushRefused(
        "carrier.bad_time",
        field,
        f"{field} {value!r} is no time; send ISO 8601, 'YYYY-MM-DD HH:MM:SS' or epoch ms",
        f"{field} 的值 {value!r} 不是时间；请使用 ISO 8601、'YYYY-MM-DD HH:MM:SS' 或毫秒时间戳",
    )


_SIGNER = re.compile(r"签收人[是为]?[:：\s]*([^\s,，。;；:：]+)")


def signer_in(remark: str | None) -> str | None:
    """The signer a carrier's remark names (``已签收，签收人是：张三``), if any."""
    if not remark:
        return None
    found = _SIGNER.search(remark)
    return found.group(1) if found else None
