"""Pinduoduo / 拼多多 (channel ``pdd``): orders as ``pdd.order.information.get`` answers
them (``order_info_get_response`` → ``order_info``), or a page of ``pdd.order.list.get``
(``order_list_get_response`` → ``order_list``: several orders in one delivery).

Field names are the platform's: ``order_sn``, ``order_status`` (1 待发货, 2 已发货待签收,
3 已签收), ``refund_status`` (1 无售后或售后关闭, 2 售后处理中, 3 退款中, 4 退款成功),
``item_list`` (``goods_price`` per unit, ``goods_count``, ``outer_id`` the merchant's SKU
code, ``outer_goods_id`` the merchant's goods code, ``sku_id``), amounts in yuan:
``goods_amount`` (list prices), ``seller_discount`` (商家优惠), ``platform_discount``
(平台优惠, paid by Pinduoduo), ``capital_free_discount`` (团长免单), ``postage`` and
``pay_amount`` (what the buyer paid, postage included), which must equal our total. The
discounts carry no line: each is spread over the lines under its own label.

Only orders waiting to ship (1 待发货) are taken; one fully refunded (退款成功) is
cancelled; one whose after-sale is open (售后处理中 / 退款中) is refused until it closes,
so goods are not sent for an order being refunded. Receivers come encrypted (``~…~``)
or masked (``receiver_name_mask``: ``张*``) unless the seller decrypts them: such an
order is taken with ``receiver_masked`` set, keeping the ciphertext where there is one
(the decrypt API takes it), else the masked text.
"""

from __future__ import annotations

from typing import Any

from oms_events.intake import normalize as n
from oms_events.intake.channel import Delivery, array, load_json, obj, read_orders, timestamp
from oms_events.intake.errors import Code, Rejection
from oms_events.intake.model import IntakeAddress, IntakeCancel, IntakeLine, IntakeOrder
from oms_events.intake.pricing import check_total, spread
from oms_events.intake.tables import Tables

_WAIT_SHIP = "1"  # order_status 待发货
_STATUS_NAMES = {"1": "待发货", "2": "已发货待签收", "3": "已签收"}
_AFTER_SALE_OPEN = {"2": "售后处理中", "3": "退款中"}
_REFUNDED = "4"  # refund_status 退款成功
_PAY_TYPES = {"WEIXIN": "wechat_pay", "ALIPAY": "alipay"}  # the rest are card-like PSPs
# Order-level discounts, in the order they are applied, with the label each line records.
_DISCOUNTS = (
    ("seller_discount", "商家优惠"),
    ("platform_discount", "平台优惠"),
    ("capital_free_discount", "团长免单"),
)
_ONE = ("order_info_get_response", "order_info")
_PAGE = ("order_list_get_response", "order_list")
# pdd.order.number.list.increment.get, the call the puller makes (intake/pull).
_INCREMENT = ("order_sn_increment_get_response", "order_sn_list")


class PddChannel:
    """Pinduoduo orders."""

    name = "pdd"
    media_type = "application/json"

    def parse(self, raw: bytes, tables: Tables) -> Delivery:
        """One order, or a page of them; one bad order refuses only itself."""
        return read_orders(
            _orders(load_json(raw)),
            "order_list",
            "order_sn",
            lambda doc, external: self._order(doc, external, tables),
        )

    def _order(self, doc: Any, external: str, tables: Tables) -> IntakeOrder | IntakeCancel:
        refund = str(n.text(doc.get("refund_status"), "refund_status", required=False) or "1")
        if refund == _REFUNDED:
            return IntakeCancel(
                self.name, external, "refunded at Pinduoduo (refund_status 4 退款成功)"
            )
        if refund in _AFTER_SALE_OPEN:
            raise Rejection(
                Code.BAD_STATUS,
                "refund_status",
                f"after-sale open ({refund} {_AFTER_SALE_OPEN[refund]}): redeliver once it closes",
                f"售后未结束（{refund} {_AFTER_SALE_OPEN[refund]}），售后关闭后再推送",
            )
        status = n.required_text(doc.get("order_status"), "order_status")
        if status != _WAIT_SHIP:
            said = _STATUS_NAMES.get(status, status[:20])
            raise Rejection(
                Code.BAD_STATUS,
                "order_status",
                f"order status {status[:20]!r} ({said}) is not 1 (待发货, waiting to ship)",
                f"订单状态 {status[:20]!r}（{said}）不可接单（仅接受 1 待发货）",
            )
        lines: list[IntakeLine] = []
        for i, item in enumerate(array(doc.get("item_list"), "item_list")):
            path = f"item_list[{i}]"
            item = obj(item, path)
            code_field = next(
                (
                    f
                    for f in ("outer_id", "outer_goods_id", "sku_id")
                    if item.get(f) not in (None, "")
                ),
                "outer_id",
            )
            channel_sku = n.required_text(item.get(code_field), f"{path}.{code_field}")
            lines.append(
                IntakeLine(
                    line_no=i + 1,
                    sku=tables.sku(self.name, channel_sku, f"{path}.{code_field}"),
                    quantity=n.quantity(item.get("goods_count"), f"{path}.goods_count"),
                    unit_price=n.non_negative_money(item.get("goods_price"), f"{path}.goods_price"),
                    channel_sku=channel_sku,
                )
            )
        goods = doc.get("goods_amount")
        if goods not in (None, "") and n.non_negative_money(goods, "goods_amount") != sum(
            line.gross for line in lines
        ):
            raise Rejection(
                Code.PRICE_MISMATCH,
                "goods_amount",
                "item prices times counts do not add up to goods_amount",
                "商品单价×数量之和与 goods_amount 不符",
            )
        for field, label in _DISCOUNTS:
            lines = spread(lines, n.optional_money(doc.get(field), field), label)
        shipping = n.optional_money(doc.get("postage"), "postage")
        check_total(
            lines, shipping, n.non_negative_money(doc.get("pay_amount"), "pay_amount"), "pay_amount"
        )
        name = n.required_text(
            doc.get("receiver_name") or doc.get("receiver_name_mask"), "receiver_name"
        )
        phone = n.phone(
            doc.get("receiver_phone") or doc.get("receiver_phone_mask"),
            "receiver_phone",
            required=True,
            allow_masked=True,
        )
        street = n.required_text(
            doc.get("receiver_address") or doc.get("receiver_address_mask"), "receiver_address"
        )
        pay_type = n.text(doc.get("pay_type"), "pay_type", required=False) or ""
        return IntakeOrder(
            channel=self.name,
            external_id=external,
            customer_name=name,
            phone=phone,
            account=None,  # Pinduoduo names no buyer account to sellers
            address=IntakeAddress(
                country="CN",
                province=n.text(doc.get("province"), "province", required=False),
                city=n.text(doc.get("city"), "city", required=False),
                district=n.text(doc.get("town"), "town", required=False),
                line1=street,
            ),
            lines=tuple(lines),
            # Pinduoduo sells prepaid only: every order it hands a seller is paid.
            payment_method=_PAY_TYPES.get(pay_type.upper(), "card"),
            paid=True,
            placed_at=timestamp(
                doc.get("pay_time") or doc.get("created_time"),
                "pay_time" if doc.get("pay_time") else "created_time",
            ),
            shipping_fee=shipping,
            receiver_masked=n.masked(name, phone, street),
        )


def _orders(doc: Any) -> list[Any]:
    """The orders of an answer: one order get, a list page, or a bare order."""
    doc = obj(doc, "$")
    if "error_response" in doc:
        error = obj(doc["error_response"], "error_response")
        said = str(error.get("error_msg") or error.get("sub_msg") or error.get("error_code"))
        raise Rejection(
            Code.UNPARSEABLE,
            "error_response",
            f"an API error: {said[:160]}",
            f"接口错误：{said[:160]}",
        )
    if _ONE[0] in doc:
        return [obj(obj(doc[_ONE[0]], _ONE[0]).get(_ONE[1]), ".".join(_ONE))]
    for page in (_PAGE, _INCREMENT):
        if page[0] in doc:
            return array(obj(doc[page[0]], page[0]).get(page[1]), ".".join(page))
    return [doc]
