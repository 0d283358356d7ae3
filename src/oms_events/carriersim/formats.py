"""A scan as a carrier pushes it: our generic JSON, or SF Express's route push.

Both are JSON on ``oms.carrier.updates``, keyed by tracking number, with a ``format``
header (``generic`` or ``sf``); the carrier adapter reads the header, else the shape
(``"format": "generic"`` or SF's ``Body``).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from oms_events.carriersim.life import Scan

BEIJING = timezone(timedelta(hours=8))


def generic(
    carrier: str,
    tracking_no: str,
    scan: Scan,
    occurred_at: datetime,
    eta: datetime | None = None,
    cod: tuple[int, str] | None = None,
) -> dict[str, Any]:
    """The generic push (README, "Carrier updates"); times in Beijing time with offset,
    ``cod`` (minor units, currency) on a delivered COD parcel."""
    return {
        "format": "generic",
        "carrier": carrier,
        "tracking_no": tracking_no,
        "status": scan.status,
        "occurred_at": occurred_at.astimezone(BEIJING).isoformat(timespec="seconds"),
        "location": scan.location,
        "eta": eta.astimezone(BEIJING).isoformat(timespec="seconds") if eta else None,
        "signer": scan.signer,
        "reason": scan.reason,
        "cod_collected": {"amount": cod[0], "currency": cod[1]} if cod else None,
    }


def sf_route(
    tracking_no: str, order_ref: str, scan: Scan, occurred_at: datetime, route_id: str
) -> dict[str, Any]:
    """SF Express's route push (丰桥 RoutePushService): ``Body.WaybillRoute`` with one
    route — ``mailno`` the waybill, ``acceptTime`` Beijing time as ``yyyy-MM-dd
    HH:mm:ss``, ``acceptAddress`` the city or outlet, ``remark`` SF's words (a failure's
    or return's reason in brackets, a signer as ``签收人：…``), ``opCode`` the kind of
    scan (life.py), ``reasonName`` an exception's reason."""
    remark = f"{scan.remark}（{scan.reason}）" if scan.reason else scan.remark
    route = {
        "id": route_id,
        "mailno": tracking_no,
        "orderid": order_ref,
        "acceptTime": occurred_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
        "acceptAddress": scan.location,
        "remark": remark,
        "opCode": scan.op_code,
    }
    if scan.reason:
        route["reasonName"] = scan.reason  # SF names an exception's reason here
    return {"Body": {"WaybillRoute": [route]}}


def encode(push: dict[str, Any]) -> bytes:
    """The push as UTF-8 JSON, Chinese kept readable."""
    return json.dumps(push, ensure_ascii=False, separators=(",", ":")).encode()
