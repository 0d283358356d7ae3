"""``oms order show``: an order and its timeline, from the tracking projection.

Labels follow the locale: LANG (or LC_ALL) starting with ``zh`` prints Chinese.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from oms_events.cli.errors import one_line_errors
from oms_events.cli.project import SCHEMA, schema_or_setting
from oms_events.domain.money import is_currency, minor_units
from oms_events.projection.lookup import OrderView, find_orders
from oms_events.projection.runner import connect
from oms_events.settings import get_settings

app = typer.Typer(help="Look orders up in the tracking projection.", no_args_is_help=True)
out = Console()

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "order": "Order",
        "channel": "Channel",
        "customer": "Customer",
        "phone": "Phone",
        "status": "Status",
        "total": "Total",
        "paid": "Paid",
        "payment": "Payment",
        "placed": "Placed",
        "ship_by": "Promised to ship by",
        "deliver_by": "Promised delivery by",
        "shipped": "Shipped",
        "delivered": "Delivered",
        "lines": "Lines",
        "line": "Line",
        "sku": "SKU",
        "qty": "Qty",
        "net": "Net",
        "location": "Warehouse",
        "shipments": "Shipments",
        "carrier": "Carrier",
        "tracking_no": "Tracking no.",
        "timeline": "Timeline",
        "at": "Time",
        "event": "Event",
        "detail": "Detail",
        "none": "No order found.",
    },
    "zh": {
        "order": "订单",
        "channel": "渠道",
        "customer": "客户",
        "phone": "电话",
        "status": "状态",
        "total": "订单金额",
        "paid": "已付",
        "payment": "支付方式",
        "placed": "下单时间",
        "ship_by": "承诺发货时间",
        "deliver_by": "承诺送达时间",
        "shipped": "发货时间",
        "delivered": "签收时间",
        "lines": "商品行",
        "line": "行",
        "sku": "商品编码",
        "qty": "数量",
        "net": "实付",
        "location": "仓库",
        "shipments": "包裹",
        "carrier": "承运商",
        "tracking_no": "运单号",
        "timeline": "时间线",
        "at": "时间",
        "event": "事件",
        "detail": "详情",
        "none": "未找到订单。",
    },
}


def language() -> str:
    """``zh`` when the locale is Chinese (LC_ALL, then LANG), else ``en``."""
    locale = os.environ.get("LC_ALL") or os.environ.get("LANG") or ""
    return "zh" if locale.lower().startswith("zh") else "en"


def _money(amount: int | None, currency: str) -> str:
    if amount is None:
        return "-"
    exponent = minor_units(currency) if is_currency(currency) else 2
    return f"{Decimal(amount).scaleb(-exponent):,.{exponent}f} {currency}"


def _at(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z") if value else "-"


def render(view: OrderView, lang: str) -> None:
    """Print one order: header, lines, shipments and timeline."""
    t = LABELS[lang]
    o = view.order
    head = Table.grid(padding=(0, 2))
    for label, value in [
        (t["order"], o["order_no"]),
        (t["channel"], o["channel"]),
        (t["customer"], o["customer_name"]),
        (t["phone"], o["phone"] or "-"),
        (t["status"], o["status"]),
        (t["total"], _money(o["order_total"], o["currency"])),
        (t["paid"], _money(o["amount_paid"] - o["amount_refunded"], o["currency"])),
        (t["payment"], o["payment_method"]),
        (t["placed"], _at(o["placed_at"])),
        (t["ship_by"], _at(o["promised_ship_by"])),
        (t["deliver_by"], _at(o["promised_delivery_by"])),
        (t["shipped"], _at(o["shipped_at"])),
        (t["delivered"], _at(o["delivered_at"])),
    ]:
        head.add_row(f"[bold]{label}[/]", str(value))
    out.print(head)
    lines = Table(
        t["line"], t["sku"], t["qty"], t["net"], t["status"], t["location"], title=t["lines"]
    )
    for ln in view.lines:
        lines.add_row(
            str(ln["line_no"]),
            ln["sku"],
            str(ln["quantity"]),
            _money(ln["net_amount"], o["currency"]),
            ln["status"],
            ln["location"] or "-",
        )
    out.print(lines)
    if view.shipments:
        ships = Table(
            t["location"], t["status"], t["carrier"], t["tracking_no"], title=t["shipments"]
        )
        for s in view.shipments:
            ships.add_row(s["location"], s["status"], s["carrier"] or "-", s["tracking_no"] or "-")
        out.print(ships)
    timeline = Table(t["at"], t["event"], t["detail"], title=t["timeline"])
    for e in view.timeline:
        detail = ", ".join(
            f"{k}={v}" for k, v in e["detail"].items() if not isinstance(v, list | dict)
        )
        timeline.add_row(_at(e["at"]), e["event"], detail)
    out.print(timeline)


@app.command()
@one_line_errors
def show(
    order_no: str | None = typer.Argument(None, help="Order number."),
    phone: str | None = typer.Option(None, "--phone", help="Customer phone."),
    customer: str | None = typer.Option(None, "--customer", help="Customer account or name."),
    schema: str | None = SCHEMA,
) -> None:
    """Print an order (or every order of a phone or customer) and its timeline."""
    if not (order_no or phone or customer):
        raise typer.BadParameter("give ORDER_NO, --phone or --customer")
    settings = get_settings()
    schema = schema_or_setting(schema)
    lang = language()
    with connect(settings.postgres.dsn, schema, "oms-order-show", create=False) as conn:
        views = find_orders(conn, schema, order_no=order_no, phone=phone, customer=customer)
    if not views:
        out.print(LABELS[lang]["none"])
        raise typer.Exit(4)
    for view in views:
        render(view, lang)
