"""Tmall / Taobao (channel ``tmall``): a ``taobao.trade.fullinfo.get`` trade, JSON.

Field names are the platform's: ``tid``, ``receiver_*``, ``orders`` (sub-orders with
``num_iid``, ``outer_sku_id``, ``num``, ``price``, ``discount_fee``), amounts as yuan
strings. ``price`` is the list price; a sub-order's ``discount_fee`` is its own
discount, the trade's ``discount_fee`` is a shop-level discount we spread over the
lines. ``payment`` (what the buyer paid, shipping included) must equal our total.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from oms_events.intake import normalize as n
from oms_events.intake.channel import Delivery, array, load_json, obj, timestamp
from oms_events.intake.errors import Code, Rejection
from oms_events.intake.model import IntakeAddress, IntakeLine, IntakeOrder
from oms_events.intake.pricing import check_total, spread
from oms_events.intake.tables import Tables

# Statuses at which a trade enters fulfilment; the value says whether it is paid.
_STATUSES = {"WAIT_SELLER_SEND_GOODS": True, "WAIT_BUYER_PAY": False}


class TmallChannel:
    """Tmall / Taobao trades."""

    name = "tmall"
    media_type = "application/json"

    def parse(self, raw: bytes, tables: Tables) -> Delivery:
        """One trade is one order; the API envelope is optional."""
        doc = obj(load_json(raw), "$")
        if "trade_fullinfo_get_response" in doc:
            doc = obj(
                obj(doc["trade_fullinfo_get_response"], "trade_fullinfo_get_response").get("trade"),
                "trade_fullinfo_get_response.trade",
            )
        external = n.external_id(doc.get("tid"), "tid")
        try:
            return Delivery(external, [self._order(doc, external, tables)])
        except Rejection as rejection:
            return Delivery(external, [rejection.for_order(external)])

    def _order(self, doc: Any, external: str, tables: Tables) -> IntakeOrder:
        status = n.required_text(doc.get("status"), "status")
        if status not in _STATUSES:
            raise Rejection(
                Code.BAD_STATUS,
                "status",
                f"trade status {status[:40]!r} is not one we take in ({', '.join(_STATUSES)})",
                f"交易状态 {status[:40]!r} 不可接单（仅接受 {', '.join(_STATUSES)}）",
            )
        subs = doc.get("orders")
        if isinstance(subs, dict):  # the API wraps the list: {"order": [...]}
            subs = subs.get("order")
        lines = []
        for i, item in enumerate(array(subs, "orders")):
            path = f"orders[{i}]"
            item = obj(item, path)
            outer = n.text(item.get("outer_sku_id"), f"{path}.outer_sku_id", required=False)
            channel_sku = outer or n.required_text(item.get("num_iid"), f"{path}.num_iid")
            sku_field = f"{path}.outer_sku_id" if outer else f"{path}.num_iid"
            line = IntakeLine(
                line_no=i + 1,
                sku=tables.sku(self.name, channel_sku, sku_field),
                quantity=n.quantity(item.get("num"), f"{path}.num"),
                unit_price=n.non_negative_money(item.get("price"), f"{path}.price"),
                discount=n.optional_money(item.get("discount_fee"), f"{path}.discount_fee"),
                channel_sku=channel_sku,
            )
            if line.discount > line.gross:
                raise Rejection(
                    Code.PRICE_MISMATCH,
                    f"{path}.discount_fee",
                    "sub-order discount exceeds its amount",
                    "子订单优惠超过商品金额",
                )
            if line.discount:
                line = replace(line, promotions=("单品优惠",))
            lines.append(line)
        lines = spread(lines, n.optional_money(doc.get("discount_fee"), "discount_fee"), "店铺优惠")
        shipping = n.optional_money(doc.get("post_fee"), "post_fee")
        check_total(lines, shipping, n.non_negative_money(doc.get("payment"), "payment"), "payment")
        street = n.required_text(doc.get("receiver_address"), "receiver_address")
        town = n.text(doc.get("receiver_town"), "receiver_town", required=False)
        return IntakeOrder(
            channel=self.name,
            external_id=external,
            customer_name=n.required_text(doc.get("receiver_name"), "receiver_name"),
            phone=n.phone(
                doc.get("receiver_mobile") or doc.get("receiver_phone"),
                "receiver_mobile" if doc.get("receiver_mobile") else "receiver_phone",
                required=True,
            ),
            account=n.text(doc.get("buyer_nick"), "buyer_nick", required=False),
            address=IntakeAddress(
                country="CN",
                province=n.text(doc.get("receiver_state"), "receiver_state", required=False),
                city=n.text(doc.get("receiver_city"), "receiver_city", required=False),
                district=n.text(doc.get("receiver_district"), "receiver_district", required=False),
                postcode=n.text(doc.get("receiver_zip"), "receiver_zip", required=False),
                line1=f"{town} {street}" if town else street,
            ),
            lines=tuple(lines),
            payment_method="alipay",  # every Tmall trade is paid through Alipay
            paid=_STATUSES[status],
            placed_at=timestamp(
                doc.get("pay_time") or doc.get("created"),
                "pay_time" if doc.get("pay_time") else "created",
            ),
            shipping_fee=shipping,
        )
