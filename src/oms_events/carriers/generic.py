"""Our own carrier push format (COMMON.md "Generic carrier push JSON"): one scan per
record, already in our words, for carriers integrated through an aggregator and for
the carrier simulator::

    {"format": "generic", "carrier": "SF", "tracking_no": "SF1234567890123",
     "status": "delivered", "occurred_at": "2026-12-01T10:00:00+08:00",
     "location": "深圳", "eta": null, "signer": "张三", "reason": null,
     "cod_collected": {"amount": 12900, "currency": "CNY"}}

A list of such objects is read too (a replayed file of several scans). Times should
carry their offset; one without is read as China time (+08:00), like the Chinese
carriers' wall clocks. A delivery_failed scan must give its reason.
"""

from __future__ import annotations

import json
from typing import Any

from oms_events.carriers.scan import (
    STATUSES,
    PushRefused,
    Scan,
    ScanStatus,
    carrier_code,
    malformed,
    moment,
    required,
    text,
)


def parse(raw: bytes) -> list[Scan]:
    """The scan(s) of a generic push."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise malformed("$", f"not JSON: {exc}", f"不是 JSON：{exc}") from None
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(i, dict) for i in items):
        raise malformed("$", "a generic push is a JSON object", "通用推送应为 JSON 对象")
    return [_scan(item, f"[{n}]." if len(items) > 1 else "") for n, item in enumerate(items)]


def _scan(item: dict[str, Any], path: str) -> Scan:
    carrier = carrier_code(required(item, "carrier", path=path))
    tracking_no = required(item, "tracking_no", path=path)
    status = required(item, "status", path=path)
    if status not in STATUSES:
        raise PushRefused(
            "carrier.bad_status",
            f"{path}status",
            f"status {status!r} is unknown; use one of {', '.join(STATUSES)}",
            f"状态 {status!r} 未知；请使用 {', '.join(STATUSES)} 之一",
        )
    scan_status: ScanStatus = status  # type: ignore[assignment]  # checked just above
    occurred_at = moment(item.get("occurred_at"), f"{path}occurred_at")
    eta = moment(item["eta"], f"{path}eta") if item.get("eta") else None
    cod = item.get("cod_collected")
    amount = currency = None
    if cod is not None:
        if (
            not isinstance(cod, dict)
            or not isinstance(cod.get("amount"), int)
            or isinstance(cod.get("amount"), bool)
            or cod["amount"] < 0
            or not isinstance(cod.get("currency"), str)
        ):
            raise PushRefused(
                "carrier.bad_amount",
                f"{path}cod_collected",
                'cod_collected must be {"amount": minor units >= 0, "currency": "CNY"}',
                'cod_collected 须为 {"amount": 最小货币单位的非负整数, "currency": "CNY"}',
            )
        amount, currency = cod["amount"], cod["currency"]
    if status == "delivery_failed" and not text(item, "reason"):
        raise PushRefused(
            "carrier.missing_field",
            f"{path}reason",
            "a delivery_failed scan needs its reason",
            "派送失败的扫描必须给出原因 reason",
        )
    return Scan(
        carrier=carrier,
        tracking_no=tracking_no,
        status=scan_status,
        occurred_at=occurred_at,
        location=text(item, "location"),
        reason=text(item, "reason"),
        eta=eta,
        signer=text(item, "signer"),
        cod_amount=amount,
        cod_currency=currency,
    )


def dump(scan: Scan) -> bytes:
    """``scan`` as a generic push (what the carrier adapter parks, and dead-letters when
    its waybill stays unknown: an operator can replay it with ``oms carrier push``)."""
    cod = (
        {"amount": scan.cod_amount, "currency": scan.cod_currency}
        if scan.cod_amount is not None
        else None
    )
    data = {
        "format": "generic",
        "carrier": scan.carrier,
        "tracking_no": scan.tracking_no,
        "status": scan.status,
        "occurred_at": scan.occurred_at.isoformat(),
        "location": scan.location,
        "eta": scan.eta.isoformat() if scan.eta else None,
        "signer": scan.signer,
        "reason": scan.reason,
        "cod_collected": cod,
    }
    return json.dumps(data, ensure_ascii=False).encode()
