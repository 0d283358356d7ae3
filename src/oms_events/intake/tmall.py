"""Tmall / Taobao (channel ``tmall``): a ``taobao.trade.fullinfo.get`` trade, JSON; or a
``taobao.refund.get`` refund (``refund_id``, ``tid``, ``num``, ``outer_id``, ``reason``,
``has_good_return``: false is 仅退款), which becomes a return of the order.

Field names are the platform's: ``tid``, ``type``, ``receiver_*``, ``orders``
(sub-orders with ``num_iid``, ``outer_sku_id``, ``num``, ``price``, ``discount_fee``,
``adjust_fee``, ``status``, ``refund_status``, ``oid`` the sub-order id, refused when
repeated; ``outer_iid`` the merchant's item code, read when the item has no sku-level
``outer_sku_id``), amounts as yuan strings. Taobao sends receivers masked (``张**``,
``138****1234``) or encrypted unless the seller decrypts them: such a trade is taken
with ``receiver_masked`` set. ``price`` is
the list price; a sub-order pays ``price * num + adjust_fee - discount_fee`` (the
platform's own formula): ``discount_fee`` is its discount, ``adjust_fee`` the seller's
price change (改价, negative when the seller lowers the price). The trade's
``discount_fee`` is a shop-level discount we spread over the lines, and the trade's
``adjust_fee`` counts only when no sub-order carries one (the platform repeats a
single sub-order's adjustment on the trade). ``payment`` (what the buyer paid,
shipping included) must equal our total.

A closed trade cancels the order: ``TRADE_CLOSED`` (付款以后用户退款成功，交易自动关闭:
refunded in full after payment) and ``TRADE_CLOSED_BY_TAOBAO`` (付款以前，卖家或买家主动关闭
交易: closed before payment) become a CancelOrder, whatever else the trade says.

A trade of a cash-on-delivery ``type`` is COD: not paid, whatever its status says.
Sub-orders closed before payment are not part of the trade's ``payment``; sub-orders
refunded after payment are (the buyer paid, then got the money back): neither is
placed as a line to ship.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from oms_events.intake import normalize as n
from oms_events.intake.channel import Delivery, array, load_json, obj, timestamp
from oms_events.intake.errors import Code, Rejection, missing
from oms_events.intake.model import IntakeAddress, IntakeCancel, IntakeLine, IntakeOrder
from oms_events.intake.pricing import adjust, adjust_order, check_total, spread
from oms_events.intake.returns import IntakeReturn, reason_code
from oms_events.intake.tables import Tables

# Statuses at which a trade enters fulfilment; the value says whether it is paid.
_STATUSES = {"WAIT_SELLER_SEND_GOODS": True, "WAIT_BUYER_PAY": False}
# Trade types paid in cash to the courier (货到付款): cod, 大商家货到付款, 超市货到付款.
_COD_TYPES = frozenset({"cod", "b2c_cod", "super_market_cod_trade"})
# A sub-order closed before the buyer paid: its amount is not in the trade's payment.
_CLOSED_UNPAID = "TRADE_CLOSED_BY_TAOBAO"
# A sub-order closed after payment, by a refund that succeeded: paid, then given back.
_CLOSED_REFUNDED = "TRADE_CLOSED"
_REFUNDED = "SUCCESS"  # refund_status of a refund that went through
# Trade statuses that close the whole trade: the order is cancelled (the reason we record).
_CLOSED_TRADE = {
    _CLOSED_REFUNDED: "closed at Tmall after a full refund (TRADE_CLOSED)",
    _CLOSED_UNPAID: "closed at Tmall before payment (TRADE_CLOSED_BY_TAOBAO)",
}


class TmallChannel:
    """Tmall / Taobao trades."""

    name = "tmall"
    media_type = "application/json"

    def parse(self, raw: bytes, tables: Tables) -> Delivery:
        """One trade is one order; the API envelope is optional."""
        doc = obj(load_json(raw), "$")
        if "refund_get_response" in doc or "refund_id" in doc:
            return self._refund_delivery(doc, tables)
        if "trade_fullinfo_get_response" in doc:
            doc = obj(
                obj(doc["trade_fullinfo_get_response"], "trade_fullinfo_get_response").get("trade"),
                "trade_fullinfo_get_response.trade",
            )
        external = n.external_id(doc.get("tid"), "tid")
        status = doc.get("status")
        if isinstance(status, str) and status.strip() in _CLOSED_TRADE:
            return Delivery(external, [IntakeCancel(self.name, external, _CLOSED_TRADE[status])])
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
        lines: list[IntakeLine] = []
        refunded: set[int] = set()  # line numbers paid for, then refunded
        adjusted = False  # a sub-order carries the seller's adjustment
        oids: set[str] = set()  # sub-order ids seen: one twice would ship twice
        for i, item in enumerate(array(subs, "orders")):
            path = f"orders[{i}]"
            item = obj(item, path)
            sub_status = n.text(item.get("status"), f"{path}.status", required=False)
            refund = n.text(item.get("refund_status"), f"{path}.refund_status", required=False)
            if sub_status == _CLOSED_UNPAID:
                continue  # never paid, never to ship: not in the trade's payment either
            n.line_id(item.get("oid"), f"{path}.oid", oids)
            # The merchant's code of the sku, else of the item (an item without sku
            # variants carries it in outer_iid), else the platform's item id.
            code_field = next(
                (f for f in ("outer_sku_id", "outer_iid") if item.get(f) not in (None, "")),
                "num_iid",
            )
            channel_sku = n.required_text(item.get(code_field), f"{path}.{code_field}")
            sku_field = f"{path}.{code_field}"
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
            if item.get("adjust_fee") not in (None, ""):
                adjusted = True
                line = adjust(line, _signed_money(item.get("adjust_fee"), f"{path}.adjust_fee"))
            lines.append(line)
            if sub_status == _CLOSED_REFUNDED or refund == _REFUNDED:
                refunded.add(line.line_no)
        if not lines:
            raise missing("orders")
        if not adjusted:
            lines = adjust_order(lines, _signed_money(doc.get("adjust_fee"), "adjust_fee"))
        lines = spread(lines, n.optional_money(doc.get("discount_fee"), "discount_fee"), "店铺优惠")
        shipping = n.optional_money(doc.get("post_fee"), "post_fee")
        check_total(lines, shipping, n.non_negative_money(doc.get("payment"), "payment"), "payment")
        # Checked with the refunded sub-orders (the payment includes them), placed without.
        lines = [line for line in lines if line.line_no not in refunded]
        if not lines:
            raise Rejection(
                Code.BAD_STATUS,
                "orders",
                "every sub-order is closed or refunded: nothing to ship",
                "所有子订单均已关闭或退款，无商品可发货",
            )
        trade_type = n.text(doc.get("type"), "type", required=False) or "fixed"
        cod = trade_type in _COD_TYPES
        street = n.required_text(doc.get("receiver_address"), "receiver_address")
        town = n.text(doc.get("receiver_town"), "receiver_town", required=False)
        name = n.required_text(doc.get("receiver_name"), "receiver_name")
        phone = n.phone(
            doc.get("receiver_mobile") or doc.get("receiver_phone"),
            "receiver_mobile" if doc.get("receiver_mobile") else "receiver_phone",
            required=True,
            allow_masked=True,
        )
        return IntakeOrder(
            channel=self.name,
            external_id=external,
            customer_name=name,
            phone=phone,
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
            # Every other trade is paid through Alipay; a COD trade's cash reaches the
            # seller through the courier, so it is not paid at intake.
            payment_method="cod" if cod else "alipay",
            paid=_STATUSES[status] and not cod,
            placed_at=timestamp(
                doc.get("pay_time") or doc.get("created"),
                "pay_time" if doc.get("pay_time") else "created",
            ),
            shipping_fee=shipping,
            receiver_masked=n.masked(name, phone, street),
        )

    def _refund_delivery(self, doc: Any, tables: Tables) -> Delivery:
        """A ``taobao.refund.get`` refund (退货退款, or 仅退款 without goods back)."""
        if "refund_get_response" in doc:
            doc = obj(
                obj(doc["refund_get_response"], "refund_get_response").get("refund"),
                "refund_get_response.refund",
            )
        external = n.external_id(doc.get("refund_id"), "refund_id")
        try:
            return Delivery(external, [self._refund(doc, external, tables)])
        except Rejection as rejection:
            return Delivery(external, [rejection.for_order(external)])

    def _refund(self, doc: Any, external: str, tables: Tables) -> IntakeReturn:
        outer = n.text(doc.get("outer_id"), "outer_id", required=False)
        channel_sku = outer or n.required_text(doc.get("num_iid"), "num_iid")
        has_goods = doc.get("has_good_return")
        if has_goods is None:
            raise missing("has_good_return")
        if has_goods not in ("true", "false") and not isinstance(has_goods, bool):
            raise Rejection(
                Code.BAD_VALUE,
                "has_good_return",
                "has_good_return must be true (退货退款) or false (仅退款)",
                "has_good_return 必须为 true（退货退款）或 false（仅退款）",
            )
        return IntakeReturn(
            channel=self.name,
            external_id=external,
            order_external_id=n.external_id(doc.get("tid"), "tid"),
            lines=(
                (
                    tables.sku(self.name, channel_sku, "outer_id" if outer else "num_iid"),
                    n.quantity(doc.get("num"), "num"),
                ),
            ),
            reason=reason_code(n.required_text(doc.get("reason"), "reason"), "reason"),
            requested_at=timestamp(doc.get("created"), "created"),
            refund_only=has_goods in (False, "false"),
        )


def _signed_money(value: Any, field: str) -> int:
    """An adjustment in fen: negative lowers the price; absent is zero."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    return n.money(value, field)
