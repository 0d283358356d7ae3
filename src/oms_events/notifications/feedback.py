"""Channel feedback: the tracking number of a shipped order, in each channel's own shape.

A sales channel only moves an order to "shipped" (卖家已发货) when it is told the carrier
and waybill through its own API. The notifier publishes that call's parameters on the
channel's outbound topic (``oms.channel.<channel>.shipping``, keyed by the channel's
order id); the connector holding the channel's credentials makes the call. The shapes
and their sources are in ``tests/fixtures/feedback/README.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Our carrier codes -> Taobao's company_code (自己联系物流 takes the platform's code).
TAOBAO_COMPANY = {
    "SF": "SF",
    "ZTO": "ZTO",
    "YTO": "YTO",
    "STO": "STO",
    "YUNDA": "YUNDA",
    "EMS": "EMS",
    "JD": "JD",
}
# Our carrier codes -> JD's logiCoprId (JD wants its numeric carrier id, not a name).
JD_CARRIER_ID = {
    "SF": "467",
    "ZTO": "1499",
    "YTO": "463",
    "STO": "470",
    "YUNDA": "1327",
    "EMS": "465",
    "JD": "2087",
}
# Our carrier codes -> Shopify's tracking company names (spelled exactly as Shopify lists
# them, so the number becomes a link in the admin).
SHOPIFY_COMPANY = {
    "SF": "SF Express",
    "ZTO": "ZTO Express",
    "YTO": "YTO Express",
    "STO": "STO Express",
    "YUNDA": "Yunda Express",
    "EMS": "EMS",
    "JD": "JD Logistics",
}


@dataclass(frozen=True)
class Shipped:
    """What every channel's ship call needs: its order id, the carrier and the waybill."""

    external_id: str
    carrier: str
    tracking_no: str


def tmall(s: Shipped) -> dict[str, Any]:
    """``taobao.logistics.offline.send`` (自己联系物流发货): tid, out_sid, company_code."""
    return {
        "method": "taobao.logistics.offline.send",
        "params": {
            "tid": s.external_id,
            "out_sid": s.tracking_no,
            "company_code": TAOBAO_COMPANY.get(s.carrier.upper(), "OTHER"),
        },
    }


def jd(s: Shipped) -> dict[str, Any]:
    """``jingdong.pop.order.shipment`` (SOP 出库发货): orderId, logiCoprId, logiNo."""
    return {
        "method": "jingdong.pop.order.shipment",
        "params": {
            "orderId": s.external_id,
            "logiCoprId": JD_CARRIER_ID.get(s.carrier.upper(), ""),
            "logiNo": s.tracking_no,
        },
    }


def shopify(s: Shipped) -> dict[str, Any]:
    """The ``fulfillmentCreate`` mutation's ``FulfillmentInput`` (web shop orders).

    Shopify fulfils fulfillment orders, whose ids only the shop knows: the connector
    looks them up from ``order_id`` and fills ``lineItemsByFulfillmentOrder`` (left
    empty here, which Shopify reads as "every line item of that fulfillment order").
    The customer is told by us, so ``notifyCustomer`` is false.
    """
    company = SHOPIFY_COMPANY.get(s.carrier.upper(), "Other")
    return {
        "method": "fulfillmentCreate",
        "order_id": f"gid://shopify/Order/{s.external_id}",
        "fulfillment": {
            "lineItemsByFulfillmentOrder": [],
            "notifyCustomer": False,
            "trackingInfo": {"company": company, "number": s.tracking_no},
        },
    }


SHAPES = {"tmall": tmall, "jd": jd, "web": shopify}


def shipping_message(channel: str, shipped: Shipped) -> Mapping[str, Any] | None:
    """The message for ``channel``'s outbound topic, or None for a channel we do not
    tell (a shop's own till, a platform without a connector yet)."""
    shape = SHAPES.get(channel)
    return None if shape is None else {"channel": channel, **shape(shipped)}
