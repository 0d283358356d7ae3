"""Store tills (channel ``pos``): a CSV batch of many orders, one row per line.

Rows of one receipt share ``store_id`` and ``receipt_no``; the order's external id is
``<store_id>-<receipt_no>``. Tills send list prices and the codes of the promotions
they applied (``promo_codes``, ``;``-separated); we recompute the discounts from the
promotion table, record them per line, and check them against ``paid_total``. A till
that rounds the amount down to the jiao (抹零: 237.56 -> 237.50) is accepted, the few
fen recorded as a line discount labelled 抹零. ``payment`` is one tender (``微信``,
``现金``, ``货到付款``) for the whole amount, or split tenders as ``method:amount``
separated by ``;`` (``微信:200.00;现金:37.50``) that must add up to ``paid_total``.
Exports from older tills come in GB18030, Hong Kong tills in Big5, newer ones in UTF-8
with a BOM: told apart by :mod:`oms_events.intake.charsets`, refused when ambiguous.

One bad receipt rejects only itself; the rest of the batch goes through.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from oms_events.domain.money import decimal_text
from oms_events.intake import normalize as n
from oms_events.intake.channel import Delivery, timestamp, unparseable
from oms_events.intake.charsets import decode
from oms_events.intake.errors import Code, Rejection, bad_value
from oms_events.intake.model import (
    IntakeAddress,
    IntakeLine,
    IntakeOrder,
    IntakeTender,
    payment_class,
)
from oms_events.intake.pricing import ROUNDING, apply_promotions, check_total, spread
from oms_events.intake.tables import Tables

COLUMNS = (
    "store_id",
    "receipt_no",
    "sold_at",
    "barcode",
    "qty",
    "unit_price",
    "promo_codes",
    "paid_total",
    "payment",
    "member_name",
    "member_phone",
    "province",
    "city",
    "district",
    "address",
    "delivery",
)
_PAYMENTS = {
    "alipay": "alipay",
    "支付宝": "alipay",
    "支付寶": "alipay",
    "wechat": "wechat_pay",
    "微信": "wechat_pay",
    "card": "card",
    "unionpay": "card",
    "银联": "card",
    "銀聯": "card",
    "cash": "cash",
    "现金": "cash",
    "現金": "cash",  # traditional characters: Hong Kong and Taiwan tills (Big5)
    "cod": "cod",
    "货到付款": "cod",
    "貨到付款": "cod",
}
# Tills round the amount payable down to the jiao (10 fen) at most: more is a wrong price.
_JIAO = 10
_SPEEDS = {
    "": "standard",
    "standard": "standard",
    "express": "express",
    "same_day": "same_day",
    "同城": "same_day",
}

Row = Mapping[str, str | None]


class PosChannel:
    """Store POS CSV batches."""

    name = "pos"
    media_type = "text/csv"

    def parse(self, raw: bytes, tables: Tables) -> Delivery:
        """Group rows into receipts; each receipt becomes an order or a rejection."""
        text = decode(raw, "CSV", utf8_default=False)
        try:
            rows = list(csv.DictReader(io.StringIO(text, newline="")))
        except csv.Error as exc:
            raise unparseable("CSV", str(exc), str(exc)) from None
        header = set(rows[0].keys()) if rows else set()
        if not rows or not {"store_id", "receipt_no", "barcode"} <= header:
            raise unparseable("CSV", "no header row with store_id, receipt_no, barcode", "缺少表头")
        receipts: dict[str, list[tuple[int, Row]]] = {}
        items: list[IntakeOrder | Rejection] = []
        for number, row in enumerate(rows, start=2):  # row 1 is the header
            try:
                store = n.required_text(row.get("store_id"), f"row {number}.store_id")
                receipt = n.required_text(row.get("receipt_no"), f"row {number}.receipt_no")
                external = n.external_id(f"{store}-{receipt}", f"row {number}.receipt_no")
            except Rejection as rejection:
                items.append(rejection)
                continue
            receipts.setdefault(external, []).append((number, row))
        for external, group in receipts.items():
            try:
                items.append(self._order(external, group, tables))
            except Rejection as rejection:
                items.append(rejection.for_order(external))
        first_store = next(iter(receipts), "").split("-")[0] or None
        # Keyed by store: a store's batches stay in order on one partition.
        return Delivery(first_store, items)

    def _order(self, external: str, group: list[tuple[int, Row]], tables: Tables) -> IntakeOrder:
        number, head = group[0]

        def at(field: str, row_no: int = number) -> str:
            return f"row {row_no}.{field}"

        lines = []
        for line_no, (row_no, row) in enumerate(group, start=1):
            channel_sku = n.required_text(row.get("barcode"), at("barcode", row_no))
            lines.append(
                IntakeLine(
                    line_no=line_no,
                    sku=tables.sku(self.name, channel_sku, at("barcode", row_no)),
                    quantity=n.quantity(row.get("qty"), at("qty", row_no)),
                    unit_price=n.non_negative_money(
                        row.get("unit_price"), at("unit_price", row_no)
                    ),
                    channel_sku=channel_sku,
                )
            )
        codes = n.text(head.get("promo_codes"), at("promo_codes"), required=False) or ""
        promotions = [
            tables.promotion(c.strip(), at("promo_codes")) for c in codes.split(";") if c.strip()
        ]
        lines = apply_promotions(lines, promotions)
        paid_total = n.non_negative_money(head.get("paid_total"), at("paid_total"))
        shortfall = sum(line.net for line in lines) - paid_total
        if 0 < shortfall < _JIAO and paid_total % _JIAO == 0:
            lines = spread(lines, shortfall, ROUNDING)  # 抹零: the till let the fen go
        check_total(lines, 0, paid_total, at("paid_total"))
        tenders = _tenders(head.get("payment"), paid_total, at("payment"))
        method, on_handover = payment_class(tenders)
        delivery = (n.text(head.get("delivery"), at("delivery"), required=False) or "").lower()
        if delivery not in _SPEEDS:
            raise bad_value(
                at("delivery"),
                delivery,
                "standard, express or same_day",
                "standard、express 或 same_day",
            )
        rows = f"rows {group[0][0]}-{group[-1][0]}"
        return IntakeOrder(
            channel=self.name,
            external_id=external,
            customer_name=n.required_text(head.get("member_name"), at("member_name")),
            phone=n.phone(head.get("member_phone"), at("member_phone"), required=True),
            account=None,
            address=IntakeAddress(
                country="CN",
                province=n.text(head.get("province"), at("province"), required=False),
                city=n.text(head.get("city"), at("city"), required=False),
                district=n.text(head.get("district"), at("district"), required=False),
                line1=n.required_text(head.get("address"), at("address")),
            ),
            lines=tuple(lines),
            payment_method=method,
            # Paid at the till, unless the store delivers and the courier collects.
            paid=not on_handover,
            # One tender the PaymentMethod enum names says it all; else spell them out.
            tenders=() if len(tenders) == 1 and tenders[0].method == method else tenders,
            placed_at=timestamp(head.get("sold_at"), at("sold_at")),
            delivery_speed=_SPEEDS[delivery],
            position=rows,
        )


def _tenders(value: str | None, paid_total: int, field: str) -> tuple[IntakeTender, ...]:
    """The receipt's tenders: one method for ``paid_total``, or ``method:amount;...``."""
    raw = n.text(value, field, required=False) or ""
    parts = [part.strip() for part in raw.split(";") if part.strip()] or [""]
    tenders = []
    for part in parts:
        name, _, amount = part.partition(":")
        method = _PAYMENTS.get(name.strip().lower())
        if method is None:
            raise bad_value(
                field,
                name,
                "alipay, wechat, card, unionpay, cash or cod (split: wechat:80.00;cash:20.00)",
                "支付宝、微信、银行卡、银联、现金或货到付款（组合支付：微信:80.00;现金:20.00）",
            )
        if not amount.strip() and len(parts) > 1:
            raise bad_value(
                field, part, "method:amount for each split tender", "组合支付需写明金额"
            )
        tenders.append(
            IntakeTender(
                method, n.non_negative_money(amount, field) if amount.strip() else paid_total
            )
        )
    paid_in = sum(t.amount for t in tenders)
    if paid_in != paid_total:
        ours, theirs = decimal_text(paid_in, "CNY"), decimal_text(paid_total, "CNY")
        raise Rejection(
            Code.PRICE_MISMATCH,
            field,
            f"tenders add up to {ours}, paid_total is {theirs}",
            f"组合支付合计 {ours} 与实收 {theirs} 不符",
        )
    return tuple(tenders)
