"""JD Logistics (京东物流) track push: route nodes of a ``waybillCode``.

Followed: JD's open platform waybill track (``jingdong.eclp.co.gotoB2BSWbMainAllTrack``
and the track push that mirrors it, as documented on easydoc "查询物流跟踪详情"): a
list of route nodes (``b2bLwbTrack``), each with ``waybillCode``, ``opeTitle`` (the
node, e.g. 揽收任务分配, 配送员开始配送, 妥投), ``opeRemark`` (its description),
``opeTime`` (``YYYY/MM/DD HH:MM:SS``, China time) and ``opeName``. The push variant
spells them ``operateTime`` / ``operateRemark``; both spellings are read. A push is one
node, a list, or an object holding ``b2bLwbTrack`` / ``traces``.

JD's documentation lists node titles, not a closed code table, so the status is taken
from the title's words (a ``category`` of the same words is read first when present):

=========================================  ===================
opeTitle / category contains               our status
=========================================  ===================
妥投, 签收                                   delivered
拒收, 投递失败, 配送失败, 异常, 再投            delivery_failed
退回, 返回, 退货, 逆向                         returned_to_sender
配送员, 派送, 配送中                           out_for_delivery
anything else                              in_transit
=========================================  ===================

Assumed, not in the public page followed (confirm against the contract of our JD
account): the ``operateTime`` / ``operateRemark`` spellings, ``expectedDeliveryTime``
(an ETA), ``codAmount`` in yuan (``"129.00"``) on a delivered COD parcel, and
``opeSite`` / ``siteName`` for where the node happened. Each is read when present and
nothing breaks when it is absent.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from oms_events.carriers.scan import (
    PushRefused,
    Scan,
    ScanStatus,
    malformed,
    moment,
    required,
    signer_in,
    text,
)

CARRIER = "JD"

# Checked in this order: a 妥投 node mentions the 配送员 too.
TITLES: tuple[tuple[tuple[str, ...], ScanStatus], ...] = (
    (("妥投", "签收"), "delivered"),
    (("拒收", "投递失败", "配送失败", "异常", "再投"), "delivery_failed"),
    (("退回", "返回", "退货", "逆向"), "returned_to_sender"),
    (("配送员", "派送", "配送中"), "out_for_delivery"),
)


def parse(raw: bytes) -> list[Scan]:
    """Every node of a JD push as a scan (PushRefused if any node is unreadable)."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise malformed("$", f"not JSON: {exc}", f"不是 JSON：{exc}") from None
    waybill: str | None = None
    if isinstance(data, dict):
        waybill = text(data, "waybillCode")
        for key in ("b2bLwbTrack", "traces"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
    nodes = data if isinstance(data, list) else [data]
    if not nodes or not all(isinstance(n, dict) for n in nodes):
        raise malformed(
            "$",
            "a JD track push is a node or a list of nodes",
            "京东轨迹推送应为一个节点或节点列表",
        )
    return [_scan(node, waybill, f"b2bLwbTrack[{n}].") for n, node in enumerate(nodes)]


def status_of(words: str) -> ScanStatus:
    """Our status for a node title (see the module table)."""
    for keys, status in TITLES:
        if any(k in words for k in keys):
            return status
    return "in_transit"


def _scan(node: dict[str, Any], waybill: str | None, path: str) -> Scan:
    tracking_no = text(node, "waybillCode") or waybill
    if tracking_no is None:
        required(node, "waybillCode", path=path)
    title = required(node, "opeTitle", "category", path=path)
    occurred_at = moment(node.get("opeTime", node.get("operateTime")), f"{path}opeTime")
    status = status_of(text(node, "category") or title)
    remark = text(node, "opeRemark", "operateRemark")
    eta_raw = node.get("expectedDeliveryTime")
    eta = moment(eta_raw, f"{path}expectedDeliveryTime") if eta_raw else None
    cod = _yuan(node.get("codAmount"), f"{path}codAmount") if status == "delivered" else None
    return Scan(
        carrier=CARRIER,
        tracking_no=str(tracking_no),
        status=status,
        occurred_at=occurred_at,
        location=text(node, "opeSite", "siteName"),
        reason=(remark or title) if status in ("delivery_failed", "returned_to_sender") else None,
        eta=eta,
        signer=signer_in(remark) if status == "delivered" else None,
        cod_amount=cod,
        cod_currency="CNY" if cod is not None else None,
        note=remark,
    )


def _yuan(value: Any, field: str) -> int | None:
    # JD writes money in yuan with two decimals; we count fen.
    if value in (None, ""):
        return None
    try:
        fen = Decimal(str(value)) * 100
    except InvalidOperation:
        fen = Decimal("NaN")
    if not fen.is_finite() or fen != fen.to_integral_value() or fen < 0:
        raise PushRefused(
            "carrier.bad_amount",
            field,
            f"{field} {value!r} is no amount in yuan (e.g. 129.00)",
            f"{field} 的值 {value!r} 不是以元为单位的金额（如 129.00）",
        )
    return int(fen)
