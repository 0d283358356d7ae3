"""Douyin / 抖音 (抖店, channel ``douyin``): shop orders as ``order.orderDetail`` answers
them (``data.shop_order_detail``) or a page of ``order.searchList``
(``data.shop_order_list``: several orders in one delivery); an answer whose ``code`` is
not 10000 is the platform's error, not an order.

Field names are the platform's and every amount is in fen (分): ``order_id``,
``order_status`` (1 待确认/待支付, 105 已支付, 2 备货中, 101 部分发货, 3 已发货,
4 已取消, 5 已完成), ``pay_type`` (0 货到付款, 1 微信, 2 支付宝, others card-like),
``post_amount``, ``pay_amount`` (what the buyer paid, postage included, which must equal
our total), ``create_time`` / ``pay_time`` in Unix seconds, and ``sku_order_list``: one
entry per sku with its own ``order_id`` (the line id, refused when repeated),
``item_num``, ``goods_price`` (list price per unit), ``pay_amount`` (what the buyer pays
for the line), the merchant's codes ``out_sku_id`` / ``code`` / ``out_product_id``, the
discounts ``promotion_shop_amount`` (店铺优惠, the merchant's), ``promotion_platform_amount``
(平台优惠), ``promotion_talent_amount`` (达人优惠, the streamer's) and
``promotion_pay_amount`` (支付优惠), and ``after_sale_info``. A line's discount is what the
buyer did not pay of its list price; it is labelled with the promotions that made it.

Paid orders (105, 2) and COD orders waiting to ship are taken; a cancelled one (4)
cancels the order. A line refunded in full (``after_sale_info.refund_status`` 3 退款成功)
was paid and is in ``pay_amount`` but is not placed; an after-sale still open on a line
refuses the order until it closes. Receivers come encrypted (``encrypt_post_receiver``
``#…#``, ``encrypt_post_tel`` ``$…$``) or masked (``mask_post_receiver`` ``张*``) unless the
seller decrypts them: such an order is taken with ``receiver_masked`` set, keeping the
ciphertext where there is one (the decrypt API takes it), else the masked text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from oms_events.intake import normalize as n
from oms_events.intake.channel import (
    Delivery,
    array,
    load_json,
    obj,
    opt_obj,
    read_orders,
    timestamp,
)
from oms_events.intake.errors import Code, Rejection
from oms_events.intake.model import IntakeAddress, IntakeCancel, IntakeLine, IntakeOrder
from oms_events.intake.pricing import check_total
from oms_events.intake.tables import Tables

_OK = 10000  # the answer's code when it holds data
_TAKEN = {"105": "已支付", "2": "备货中"}
_COD_WAITING = "1"  # a COD order waits for the seller's confirmation (待确认), unpaid
_CANCELLED = "4"
_STATUS_NAMES = {"1": "待确认/待支付", "101": "部分发货", "3": "已发货", "5": "已完成"}
_COD = "0"
_PAY_TYPES = {"0": "cod", "1": "wechat_pay", "2": "alipay"}  # the rest are card-like
_PROMOTIONS = (
    ("promotion_shop_amount", "店铺优惠"),
    ("promotion_platform_amount", "平台优惠"),
    ("promotion_talent_amount", "达人优惠"),
    ("promotion_pay_amount", "支付优惠"),
)
_REFUNDED = "3"  # after_sale_info.refund_status 退款成功
# after_sale_status of a line with no after-sale or a closed one: 0 none, 12 售后成功,
# 27 拒绝售后申请, 28 售后失败 (售后关闭), 29 退货后拒绝退款. Any other is still open.
_AFTER_SALE_CLOSED = frozenset({"0", "12", "27", "28", "29"})
# The merchant's codes of a sku, most specific first (商家 SKU 编码, 商家编码, 商品外部编码).
_CODES = ("out_sku_id", "code", "out_product_id")


class DouyinChannel:
    """Douyin (抖店) shop orders."""

    name = "douyin"
    media_type = "application/json"

    def parse(self, raw: bytes, tables: Tables) -> Delivery:
        """One order, or a page of them; one bad order refuses only itself."""
        return read_orders(
            _orders(load_json(raw)),
            "shop_order_list",
            "order_id",
            lambda doc, external: self._order(doc, external, tables),
        )

    def _order(self, doc: Any, external: str, tables: Tables) -> IntakeOrder | IntakeCancel:
        status = n.required_text(doc.get("order_status"), "order_status")
        pay_type = n.required_text(doc.get("pay_type"), "pay_type")
        if status == _CANCELLED:
            return IntakeCancel(self.name, external, "cancelled at Douyin (order_status 4 已取消)")
        if status not in _TAKEN and not (status == _COD_WAITING and pay_type == _COD):
            said = _STATUS_NAMES.get(status, status[:20])
            raise Rejection(
                Code.BAD_STATUS,
                "order_status",
                f"order status {status[:20]!r} ({said}) is not one we take in (105, 2)",
                f"订单状态 {status[:20]!r}（{said}）不可接单（仅接受 105 已支付、2 备货中）",
            )
        lines: list[IntakeLine] = []
        refunded: set[int] = set()
        seen: set[str] = set()
        for i, item in enumerate(array(doc.get("sku_order_list"), "sku_order_list")):
            path = f"sku_order_list[{i}]"
            item = obj(item, path)
            n.line_id(item.get("order_id"), f"{path}.order_id", seen)
            after_sale = opt_obj(item.get("after_sale_info"), f"{path}.after_sale_info")
            sale_status = str(after_sale.get("after_sale_status") or "0")
            if sale_status not in _AFTER_SALE_CLOSED:
                raise Rejection(
                    Code.BAD_STATUS,
                    f"{path}.after_sale_info.after_sale_status",
                    f"after-sale {sale_status[:10]!r} open on a line: redeliver once it closes",
                    f"商品行售后 {sale_status[:10]!r} 未结束，售后关闭后再推送",
                )
            code_field = next((f for f in _CODES if item.get(f) not in (None, "")), _CODES[0])
            channel_sku = n.required_text(item.get(code_field), f"{path}.{code_field}")
            line = IntakeLine(
                line_no=i + 1,
                sku=tables.sku(self.name, channel_sku, f"{path}.{code_field}"),
                quantity=n.quantity(item.get("item_num"), f"{path}.item_num"),
                unit_price=_fen(item.get("goods_price"), f"{path}.goods_price"),
                channel_sku=channel_sku,
            )
            line = _priced(line, item, path)
            lines.append(line)
            if str(after_sale.get("refund_status") or "") == _REFUNDED:
                refunded.add(line.line_no)
        shipping = _fen(doc.get("post_amount"), "post_amount", required=False)
        check_total(lines, shipping, _fen(doc.get("pay_amount"), "pay_amount"), "pay_amount")
        lines = [line for line in lines if line.line_no not in refunded]
        if not lines:
            raise Rejection(
                Code.BAD_STATUS,
                "sku_order_list",
                "every line is refunded: nothing to ship",
                "所有商品均已退款，无商品可发货",
            )
        name, phone, street, address = _receiver(doc)
        cod = pay_type == _COD
        return IntakeOrder(
            channel=self.name,
            external_id=external,
            customer_name=name,
            phone=phone,
            account=None,  # Douyin names no buyer account to sellers (open ids only)
            address=IntakeAddress(
                country="CN",
                province=_region(address, "province"),
                city=_region(address, "city"),
                district=_region(address, "town"),
                line1=" ".join(p for p in (_region(address, "street"), street) if p),
            ),
            lines=tuple(lines),
            payment_method=_PAY_TYPES.get(pay_type, "card"),
            paid=not cod,
            placed_at=timestamp(
                doc.get("pay_time") or doc.get("create_time"),
                "pay_time" if doc.get("pay_time") else "create_time",
            ),
            shipping_fee=shipping,
            receiver_masked=n.masked(name, phone, street),
        )


def _fen(value: Any, field: str, required: bool = True) -> int:
    """A whole number of fen (Douyin sends integers): ``12900`` is 129.00 yuan."""
    if not required and value in (None, ""):
        return 0
    return n.minor_amount(value, field)


def _priced(line: IntakeLine, item: Mapping[str, Any], path: str) -> IntakeLine:
    """The line with its discount: the list price the buyer did not pay, labelled."""
    paid = _fen(item.get("pay_amount"), f"{path}.pay_amount")
    gross = line.gross
    if paid > gross:
        raise Rejection(
            Code.PRICE_MISMATCH,
            f"{path}.pay_amount",
            "the line's pay_amount exceeds goods_price times item_num",
            "商品行实付金额超过单价×数量",
        )
    labels = tuple(
        label
        for field, label in _PROMOTIONS
        if _fen(item.get(field), f"{path}.{field}", required=False)
    )
    return replace(line, discount=gross - paid, promotions=labels)


def _receiver(doc: Mapping[str, Any]) -> tuple[str, str | None, str, Mapping[str, Any]]:
    """Name, phone, street detail and address object: in clear, else encrypted (what the
    decrypt API takes back), else masked."""
    name = n.required_text(
        doc.get("post_receiver")
        or doc.get("encrypt_post_receiver")
        or doc.get("mask_post_receiver"),
        "post_receiver",
    )
    phone = n.phone(
        doc.get("post_tel") or doc.get("encrypt_post_tel") or doc.get("mask_post_tel"),
        "post_tel",
        required=True,
        allow_masked=True,
    )
    address = opt_obj(doc.get("post_addr"), "post_addr")
    masked_address = opt_obj(doc.get("mask_post_addr"), "mask_post_addr")
    street = n.required_text(
        address.get("detail") or address.get("encrypt_detail") or masked_address.get("detail"),
        "post_addr.detail",
    )
    return name, phone, street, address or masked_address


def _region(address: Mapping[str, Any], level: str) -> str | None:
    """``{"name": "浙江省", "id": "33"}`` -> ``浙江省``."""
    part = address.get(level)
    if isinstance(part, Mapping):
        part = part.get("name")
    return n.text(part, f"post_addr.{level}.name", required=False)


def _orders(doc: Any) -> list[Any]:
    """The orders of an answer: an order detail, a search page, or a bare order."""
    doc = obj(doc, "$")
    if "data" in doc or "code" in doc:
        code = doc.get("code")
        if code not in (None, _OK, str(_OK)):
            said = str(doc.get("sub_msg") or doc.get("msg") or code)
            raise Rejection(
                Code.UNPARSEABLE,
                "code",
                f"an API error: {said[:160]}",
                f"接口错误：{said[:160]}",
            )
        doc = obj(doc.get("data"), "data")
    if "shop_order_detail" in doc:
        return [obj(doc["shop_order_detail"], "data.shop_order_detail")]
    if "shop_order_list" in doc:
        return array(doc["shop_order_list"], "data.shop_order_list")
    return [doc]
