"""JD (channel ``jd``): POP orders as JD's order API answers them, in JSON — a page of
``jingdong.pop.order.search`` (``jingdong_pop_order_search_responce`` →
``searchorderinfo_result`` → ``orderInfoList``: several orders in one delivery) or one
``jingdong.pop.order.get`` (``jingdong_pop_order_get_responce`` → ``orderDetailInfo`` →
``orderInfo``) — or one ``<orderInfo>`` in the same field names as XML; or an
after-sale service (售后, ``<afsServiceInfo>``: ``afsServiceId``, ``orderId``,
``customerExpect`` 10 退货 / 20 换货, ``questionTypeName``, ``afsApplyTime``,
``wareList`` of ``skuId`` + ``wareNum``), which becomes a return of the order.

Parsed with defusedxml: entity expansion, external entities and DTDs are refused, so
a hostile document cannot read files or blow up memory. XML is read into the JSON form
(``...List`` elements as arrays), so both are one order reader. JD sends the consignee
masked (``张*``, ``138****1234``) unless the seller decrypts it: such an order is taken
with ``receiver_masked`` set. ``jdPrice`` is the list
price; coupons with a ``skuId`` are that line's discount, coupons without one are an
order discount spread over the lines. ``orderPayment`` (shipping included) must equal
our total.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from oms_events.intake import normalize as n
from oms_events.intake.channel import (
    Delivery,
    array,
    load_json,
    obj,
    opt_obj,
    read_orders,
    timestamp,
    unparseable,
)
from oms_events.intake.charsets import declared_xml_encoding, decode
from oms_events.intake.errors import Code, Rejection, bad_value, missing
from oms_events.intake.model import (
    IntakeAddress,
    IntakeLine,
    IntakeOrder,
    IntakeTender,
    payment_class,
)
from oms_events.intake.pricing import check_total, spread
from oms_events.intake.returns import IntakeReturn, reason_code
from oms_events.intake.tables import Tables

# JD's payType codes (the API sends "1-货到付款" or just "1") -> our tender method. Only
# tenders collected at handover (货到付款, 自提 paid at the pickup point) leave the order
# unpaid; a transfer has reached JD before the order waits for the seller to ship.
_PAY_TYPES = {
    "1": "cod",  # 货到付款
    "2": "postal_remittance",  # 邮局汇款
    "3": "pay_at_pickup",  # 自提
    "4": "card",  # 在线支付
    "5": "bank_transfer",  # 公司转账
    "6": "bank_transfer",  # 银行卡转账
}
_STATES = ("WAIT_SELLER_STOCK_OUT",)
# An after-sale service's customerExpect -> whether it is an exchange: 10 退货 (goods
# back, money back), 20 换货 (goods back, the same sku sent again). 30 维修 (repair) is
# not a return.
_EXPECTS = {"10": False, "20": True}


class JdChannel:
    """JD POP orders in XML."""

    name = "jd"
    media_type = "application/xml"

    def parse(self, raw: bytes, tables: Tables) -> Delivery:
        """A JSON answer of JD's API (one order or a page of them), or one XML document."""
        if raw.lstrip()[:1] in (b"{", b"["):
            return self._orders(_json_orders(load_json(raw)), tables)
        # Decoded here, not by expat, which cannot read multi-byte encodings (GBK).
        text = decode(raw, "XML", declared_xml_encoding(raw))
        try:
            root = fromstring(text)
        except (ParseError, DefusedXmlException, ValueError, UnicodeError, LookupError) as exc:
            # LookupError: an unknown encoding in the XML declaration (found by fuzzing).
            raise unparseable("XML", str(exc), str(exc)) from None
        if root.tag == "afsServiceInfo":
            return self._after_sale_delivery(root, tables)
        if root.tag != "orderInfo":
            raise unparseable(
                "XML",
                f"root element is <{root.tag[:40]}>, not <orderInfo> or <afsServiceInfo>",
                "根元素不是 orderInfo 或 afsServiceInfo",
            )
        return self._orders([_xml_value(root)], tables)

    def _orders(self, docs: list[Any], tables: Tables) -> Delivery:
        """Each order of the delivery read on its own: one bad order refuses only itself.

        One order is keyed by its id; a page by its shop (``venderId``), as a POS batch
        by its store, so a shop's pages stay in order on one partition.
        """
        return read_orders(
            docs,
            "orderInfoList",
            "orderId",
            lambda doc, external: self._order(doc, external, tables),
            page_key=_shop,
        )

    def _order(self, root: Mapping[str, Any], external: str, tables: Tables) -> IntakeOrder:
        state = n.required_text(_text(root, "orderState"), "orderState")
        if state not in _STATES:
            raise Rejection(
                Code.BAD_STATUS,
                "orderState",
                f"order state {state[:40]!r} is not one we take in ({', '.join(_STATES)})",
                f"订单状态 {state[:40]!r} 不可接单（仅接受 {', '.join(_STATES)}）",
            )
        pay_type = n.required_text(_text(root, "payType"), "payType").split("-")[0]
        if pay_type not in _PAY_TYPES:
            raise Rejection(
                Code.BAD_VALUE,
                "payType",
                f"pay type {pay_type[:20]!r} is none of JD's 1-6",
                f"支付方式 {pay_type[:20]!r} 无效（应为 1-货到付款、2-邮局汇款、3-自提、"
                "4-在线支付、5-公司转账 或 6-银行卡转账）",
            )
        tender_method = _PAY_TYPES[pay_type]
        lines: list[IntakeLine] = []
        by_sku: dict[str, int] = {}
        for i, item in enumerate(array(root.get("itemInfoList"), "itemInfoList")):
            path = f"itemInfoList[{i}]"
            item = obj(item, path)
            channel_sku = n.required_text(_text(item, "skuId"), f"{path}.skuId")
            by_sku.setdefault(channel_sku, i)
            lines.append(
                IntakeLine(
                    line_no=i + 1,
                    sku=tables.sku(self.name, channel_sku, f"{path}.skuId"),
                    quantity=n.quantity(_text(item, "itemTotal"), f"{path}.itemTotal"),
                    unit_price=n.non_negative_money(_text(item, "jdPrice"), f"{path}.jdPrice"),
                    channel_sku=channel_sku,
                )
            )
        order_discount = 0
        coupons = root.get("couponDetailList") or []
        if not isinstance(coupons, list):
            raise bad_value("couponDetailList", coupons, "a list", "数组")
        for i, coupon in enumerate(coupons):
            path = f"couponDetailList[{i}]"
            coupon = obj(coupon, path)
            amount = n.non_negative_money(_text(coupon, "couponPrice"), f"{path}.couponPrice")
            label = n.text(_text(coupon, "couponType"), f"{path}.couponType", False) or "京东优惠"
            sku = n.text(_text(coupon, "skuId"), f"{path}.skuId", required=False)
            if sku is None:
                order_discount += amount
                continue
            if sku not in by_sku:
                raise Rejection(
                    Code.PRICE_MISMATCH,
                    f"{path}.skuId",
                    f"coupon for sku {sku[:20]!r} that the order does not contain",
                    f"优惠券对应的商品 {sku[:20]!r} 不在订单中",
                )
            index = by_sku[sku]
            line = lines[index]
            if line.discount + amount > line.gross:
                raise Rejection(
                    Code.PRICE_MISMATCH,
                    f"{path}.couponPrice",
                    "coupons exceed the line amount",
                    "优惠金额超过商品金额",
                )
            lines[index] = replace(
                line, discount=line.discount + amount, promotions=(*line.promotions, label)
            )
        lines = spread(lines, order_discount, "京东店铺优惠")
        shipping = n.optional_money(_text(root, "freightPrice"), "freightPrice")
        check_total(
            lines,
            shipping,
            n.non_negative_money(_text(root, "orderPayment"), "orderPayment"),
            "orderPayment",
        )
        who = obj(root.get("consigneeInfo"), "consigneeInfo")
        name = n.required_text(_text(who, "fullname"), "consigneeInfo.fullname")
        phone_field = "mobile" if _text(who, "mobile") else "telephone"
        phone = n.phone(
            _text(who, phone_field), f"consigneeInfo.{phone_field}", True, allow_masked=True
        )
        street = n.required_text(_text(who, "fullAddress"), "consigneeInfo.fullAddress")
        total = sum(line.net for line in lines) + shipping
        tenders = (IntakeTender(tender_method, total),)
        method, on_handover = payment_class(tenders)
        return IntakeOrder(
            channel=self.name,
            external_id=external,
            customer_name=name,
            phone=phone,
            account=n.text(_text(root, "pin"), "pin", required=False),
            address=IntakeAddress(
                country="CN",
                province=n.text(_text(who, "province"), "consigneeInfo.province", False),
                city=n.text(_text(who, "city"), "consigneeInfo.city", False),
                district=n.text(_text(who, "county"), "consigneeInfo.county", False),
                line1=street,
            ),
            lines=tuple(lines),
            payment_method=method,
            paid=not on_handover,
            # Only a method the PaymentMethod enum cannot name needs its tender spelled out.
            tenders=() if method == tender_method else tenders,
            placed_at=timestamp(_text(root, "orderStartTime"), "orderStartTime"),
            shipping_fee=shipping,
            receiver_masked=n.masked(name, phone, street),
        )

    def _after_sale_delivery(self, root: Element, tables: Tables) -> Delivery:
        """One ``<afsServiceInfo>`` is one after-sale service of an order."""
        external = n.external_id(_text(root, "afsServiceId"), "afsServiceId")
        try:
            return Delivery(external, [self._after_sale(root, external, tables)])
        except Rejection as rejection:
            return Delivery(external, [rejection.for_order(external)])

    def _after_sale(self, root: Element, external: str, tables: Tables) -> IntakeReturn:
        expect = n.required_text(_text(root, "customerExpect"), "customerExpect")
        if expect not in _EXPECTS:
            raise Rejection(
                Code.BAD_VALUE,
                "customerExpect",
                f"customerExpect {expect[:20]!r} is not one we take ({', '.join(_EXPECTS)})",
                f"售后类型 {expect[:20]!r} 不受理（仅受理 {', '.join(_EXPECTS)}）",
            )
        lines: list[tuple[str, int]] = []
        wares = root.find("wareList")
        for i, ware in enumerate(list(wares) if wares is not None else []):
            path = f"wareList[{i}]"
            channel_sku = n.required_text(_text(ware, "skuId"), f"{path}.skuId")
            lines.append(
                (
                    tables.sku(self.name, channel_sku, f"{path}.skuId"),
                    n.quantity(_text(ware, "wareNum"), f"{path}.wareNum"),
                )
            )
        if not lines:
            raise missing("wareList")
        return IntakeReturn(
            channel=self.name,
            external_id=external,
            order_external_id=n.external_id(_text(root, "orderId"), "orderId"),
            lines=tuple(lines),
            reason=reason_code(
                n.required_text(_text(root, "questionTypeName"), "questionTypeName"),
                "questionTypeName",
            ),
            requested_at=timestamp(_text(root, "afsApplyTime"), "afsApplyTime"),
            exchange=_EXPECTS[expect],
        )


def _text(parent: Element | Mapping[str, Any], path: str) -> Any:
    """A field of the JSON form (as sent: n.* checks it), or the text of a child element;
    absent and empty elements are both None."""
    if isinstance(parent, Mapping):
        return parent.get(path)
    child = parent.find(path)
    if child is None or child.text is None:
        return None
    return child.text


def _scalar(value: Any) -> bool:
    """A JSON string or number (what an id may be)."""
    return isinstance(value, str | int) and not isinstance(value, bool)


def _xml_value(element: Element) -> Any:
    """An XML element in the API's JSON form: ``...List`` elements are arrays of their
    children, other elements with children objects, leaves their text."""
    children = list(element)
    if not children:
        return element.text
    if element.tag.endswith("List"):
        return [_xml_value(child) for child in children]
    return {child.tag: _xml_value(child) for child in children}


# The answers of JD's order API: where the order (or the page of orders) sits.
_SEARCH = ("jingdong_pop_order_search_responce", "searchorderinfo_result", "orderInfoList")
_GET = ("jingdong_pop_order_get_responce", "orderDetailInfo", "orderInfo")


def _json_orders(doc: Any) -> list[Any]:
    """The orders of a JSON answer: a search page, an order get, or a bare order or page."""
    doc = obj(doc, "$")
    if "error_response" in doc:
        error = opt_obj(doc["error_response"], "error_response")
        said = str(error.get("zh_desc") or error.get("en_desc") or error.get("code"))
        raise unparseable("JD order answer", f"an API error: {said}", f"接口错误：{said}")
    for response, result, field in (_SEARCH, _GET):
        if response in doc:
            doc = obj(obj(doc[response], response).get(result), f"{response}.{result}")
            if field not in doc:
                raise missing(f"{response}.{result}.{field}")
            doc = {field: doc[field]}
            break
    if "orderInfoList" in doc:
        return array(doc["orderInfoList"], "orderInfoList")
    if "orderInfo" in doc:
        return [obj(doc["orderInfo"], "orderInfo")]
    return [doc]


def _shop(doc: Mapping[str, Any]) -> str | None:
    """A page's key: the shop (``venderId``) of its first order, where it is a value."""
    shop = doc.get("venderId")
    return n.text(shop, "venderId", required=False) if _scalar(shop) else None
