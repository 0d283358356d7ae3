"""The web shop (channel ``web``): a Shopify-style ``orders/create`` webhook, JSON.

Shopify states list prices per line, the discounts it already allocated to each line
(``discount_allocations``), the order's ``total_discounts`` and ``total_price``. Any
order discount it did not allocate is spread over the lines. With ``taxes_included``
(China, the EU) the prices hold the tax; without it (``taxes_included: false``, the US)
``total_tax`` comes on top and is kept as the order's own ``tax`` amount, so that
``total_price`` = lines + shipping + tax.

A cancelled order (``orders/cancelled``: ``cancelled_at`` set, with ``cancel_reason``
customer / declined / fraud / inventory / staff / other) or one whose payment was voided
(``financial_status: voided``) becomes a CancelOrder.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from oms_events.intake import normalize as n
from oms_events.intake.channel import Delivery, array, load_json, obj, opt_obj, timestamp
from oms_events.intake.errors import Code, Rejection, bad_value
from oms_events.intake.model import IntakeAddress, IntakeCancel, IntakeLine, IntakeOrder
from oms_events.intake.pricing import check_total, spread
from oms_events.intake.tables import Tables

_GATEWAYS = {
    "alipay": "alipay",
    "wechat pay": "wechat_pay",
    "weixin": "wechat_pay",
}
# A manual payment method is named by the merchant: Shopify's default is "Cash on
# Delivery (COD)" (older shops: "cash_on_delivery"), and shops rename it. These words in
# a gateway name mean the courier collects the money (shops misspell it: "Delivary").
_COD_NAME = re.compile(
    r"\bcod\b|\b(cash|collect|pay|payment) on deliv[ae]ry\b|货到付款|到付|代收货款"
)


class WebChannel:
    """Shopify-style order webhooks."""

    name = "web"
    media_type = "application/json"

    def parse(self, raw: bytes, tables: Tables) -> Delivery:
        """One webhook body is one order."""
        doc = obj(load_json(raw), "$")
        external = n.external_id(doc.get("id"), "id")
        cancelled = _cancellation(doc)
        if cancelled is not None:
            return Delivery(external, [IntakeCancel(self.name, external, cancelled)])
        try:
            return Delivery(external, [self._order(doc, external, tables)])
        except Rejection as rejection:
            return Delivery(external, [rejection.for_order(external)])

    def _order(self, doc: Any, external: str, tables: Tables) -> IntakeOrder:
        currency = n.currency(doc.get("currency") or "CNY", "currency")
        customer = opt_obj(doc.get("customer"), "customer")
        ship = obj(doc.get("shipping_address"), "shipping_address")
        name = n.text(ship.get("name"), "shipping_address.name", required=False) or " ".join(
            part
            for part in (
                n.text(customer.get("last_name"), "customer.last_name", required=False),
                n.text(customer.get("first_name"), "customer.first_name", required=False),
            )
            if part
        )
        if not name:
            raise Rejection(
                Code.MISSING_FIELD,
                "shipping_address.name",
                "the order names no recipient",
                "订单缺少收货人姓名",
            )
        country = n.country(ship.get("country_code") or "CN", "shipping_address.country_code")
        phone_field = "shipping_address.phone" if ship.get("phone") else "customer.phone"
        # A national number ("(503) 555-0187") is read in the country it ships to.
        phone = n.phone(ship.get("phone") or customer.get("phone"), phone_field, country=country)
        lines = []
        line_ids: set[str] = set()  # Shopify line item ids: one twice would ship twice
        for i, item in enumerate(array(doc.get("line_items"), "line_items")):
            path = f"line_items[{i}]"
            item = obj(item, path)
            n.line_id(item.get("id"), f"{path}.id", line_ids)
            channel_sku = n.required_text(item.get("sku"), f"{path}.sku")
            allocations = item.get("discount_allocations") or []
            if not isinstance(allocations, list):
                raise Rejection(
                    Code.BAD_VALUE, f"{path}.discount_allocations", "not a list", "应为数组"
                )
            discount = sum(
                n.non_negative_money(
                    obj(a, f"{path}.discount_allocations[{j}]").get("amount"),
                    f"{path}.discount_allocations[{j}].amount",
                    currency,
                )
                for j, a in enumerate(allocations)
            )
            lines.append(
                IntakeLine(
                    line_no=i + 1,
                    sku=tables.sku(self.name, channel_sku, f"{path}.sku"),
                    quantity=n.quantity(item.get("quantity"), f"{path}.quantity"),
                    unit_price=n.non_negative_money(item.get("price"), f"{path}.price", currency),
                    discount=discount,
                    promotions=("shopify discount",) if discount else (),
                    channel_sku=channel_sku,
                )
            )
        for line in lines:
            if line.discount > line.gross:
                raise Rejection(
                    Code.PRICE_MISMATCH,
                    f"line_items[{line.line_no - 1}].discount_allocations",
                    "line discount exceeds the line amount",
                    "商品行优惠超过商品金额",
                )
        total_discounts = n.optional_money(doc.get("total_discounts"), "total_discounts", currency)
        allocated = sum(line.discount for line in lines)
        if total_discounts > allocated:
            codes = doc.get("discount_codes")
            label = "order discount"
            if isinstance(codes, list) and codes and isinstance(codes[0], dict):
                label = n.text(codes[0].get("code"), "discount_codes[0].code", False) or label
            lines = spread(lines, total_discounts - allocated, label)
        shipping, speed = _shipping(doc.get("shipping_lines"), currency)
        tax = _tax(doc, currency)
        check_total(
            lines,
            shipping + tax,
            n.non_negative_money(doc.get("total_price"), "total_price", currency),
            "total_price",
            currency,
        )
        method = _method(doc.get("payment_gateway_names"), doc.get("gateway"))
        address = IntakeAddress(
            country=country,
            line1=" ".join(
                part
                for part in (
                    n.required_text(ship.get("address1"), "shipping_address.address1"),
                    n.text(ship.get("address2"), "shipping_address.address2", required=False),
                )
                if part
            ),
            province=n.text(ship.get("province"), "shipping_address.province", required=False),
            city=n.text(ship.get("city"), "shipping_address.city", required=False),
            postcode=n.text(ship.get("zip"), "shipping_address.zip", required=False),
        )
        order = IntakeOrder(
            channel=self.name,
            external_id=external,
            customer_name=name,
            phone=phone,
            account=n.text(customer.get("email") or doc.get("email"), "customer.email", False),
            address=address,
            lines=tuple(lines),
            payment_method=method,
            # A COD order is paid when the courier collects, whatever the shop marked.
            paid=doc.get("financial_status") == "paid" and method != "cod",
            placed_at=timestamp(doc.get("created_at"), "created_at"),
            currency=currency,
            shipping_fee=shipping,
            delivery_speed=speed,
            tax=tax,
        )
        return replace(order, position=str(doc.get("name") or ""))


def _tax(doc: Any, currency: str) -> int:
    """Tax on top of the prices: ``total_tax`` when the shop's prices exclude tax
    (``taxes_included: false``, as in the US); 0 when prices include it (Shopify's
    default for China and the EU), where ``total_tax`` is only the part already in them."""
    included = doc.get("taxes_included")
    if included is None or included is True:
        return 0
    if included is not False:
        raise bad_value("taxes_included", included, "true or false", "true 或 false")
    return n.optional_money(doc.get("total_tax"), "total_tax", currency)


def _cancellation(doc: Any) -> str | None:
    """Why the shop cancelled the order, or None when it is not cancelled."""
    reason = doc.get("cancel_reason")
    said = f" ({n.half_width(reason)[:40]})" if isinstance(reason, str) and reason else ""
    if doc.get("cancelled_at"):
        return f"cancelled at the shop{said}"
    if doc.get("financial_status") == "voided":
        return f"payment voided at the shop{said}"
    return None


def _method(names: Any, gateway: Any) -> str:
    """Our payment method from the order's gateway names: COD when any is named for cash
    on delivery, else the first we know, else card (Shopify Payments and other PSPs)."""
    listed = names if isinstance(names, list) and names else [gateway]
    cleaned = [
        re.sub(r"[\W_]+", " ", n.half_width(str(name)).lower()).strip()
        for name in listed
        if isinstance(name, str)
    ]
    if any(_COD_NAME.search(name) for name in cleaned):
        return "cod"
    for name in cleaned:
        for word, method in _GATEWAYS.items():
            if word in name:
                return method
    return "card"


def _shipping(value: Any, currency: str) -> tuple[int, str]:
    """Shipping fee (sum of shipping lines) and delivery speed (from the first line's code)."""
    if value is None:
        return 0, "standard"
    if not isinstance(value, list):
        raise bad_value("shipping_lines", value, "a list", "数组")
    fee, speed = 0, "standard"
    for i, item in enumerate(value):
        line = obj(item, f"shipping_lines[{i}]")
        fee += n.non_negative_money(line.get("price"), f"shipping_lines[{i}].price", currency)
        if i == 0:
            speed = _speed(str(line.get("code") or ""))
    return fee, speed


def _speed(code: str) -> str:
    lowered = code.lower()
    if "same" in lowered:
        return "same_day"
    if "express" in lowered or "next" in lowered:
        return "express"
    return "standard"
