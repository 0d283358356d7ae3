"""``oms order show``: an order and its timeline, from the tracking projection.

Labels follow the locale: LANG (or LC_ALL) starting with ``zh`` prints Chinese.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import typer
from psycopg.rows import dict_row
from rich.console import Console
from rich.table import Table

from oms_events import operator_commands, topics
from oms_events.answers import send_and_wait
from oms_events.avro.registry import codec_from_settings
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


# --- oms order cancel -------------------------------------------------------------------

SAID: dict[str, dict[str, str]] = {
    "en": {
        "sent": "CancelOrder {order_no} -> {topic}",
        "released": "cancelled: {n} reservation(s) released, the units are available again",
        "warehouse": "warehouse {location} told not to ship {shipment} (AllocationCancelled)",
        "intercept": "interception requested from {carrier} for waybill {tracking_no}",
        "waiting": "the order is cancelled once the carrier intercepts the parcel; "
        "if it is delivered first the cancellation is refused",
        "refund": "refund requested: {amount}",
        "already": "already cancelled: nothing more to do",
        "refused": "refused ({code}): {message}",
        "silent": "sent; the engine did not answer within {wait:g} s (is it running?)",
        "unknown": "no order {order_no} in the tracking projection; check the number "
        "(oms order show --phone ...)",
        "several": "order number {order_no} is on several channels: {channels}",
    },
    "zh": {
        "sent": "已发送 CancelOrder {order_no} -> {topic}",
        "released": "已取消：释放 {n} 个库存预占，库存已可再售",
        "warehouse": "已通知仓库 {location} 停止发货，包裹 {shipment}（AllocationCancelled）",
        "intercept": "已向 {carrier} 申请拦截运单 {tracking_no}",
        "waiting": "承运商拦截成功后订单取消；若包裹先签收，取消将被拒绝",
        "refund": "已申请退款：{amount}",
        "already": "订单已取消，无需操作",
        "refused": "被拒绝（{code}）：{message}",
        "silent": "已发送；引擎 {wait:g} 秒内未答复（引擎是否在运行？）",
        "unknown": "跟踪投影中没有订单 {order_no}，请核对订单号（oms order show --phone ...）",
        "several": "订单号 {order_no} 存在于多个渠道：{channels}",
    },
}


class CancelRefused(typer.BadParameter):
    """A cancellation the CLI cannot send (unknown or ambiguous order number)."""


def _target(conn: Any, order_no: str, lang: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The order row and its shipments, from the tracking projection."""
    with conn.cursor(row_factory=dict_row) as cur:
        found = cur.execute(
            "SELECT order_id, order_no, channel, status, currency FROM order_tracking "
            "WHERE order_no = %s",
            (order_no,),
        ).fetchall()
        if not found:
            raise CancelRefused(SAID[lang]["unknown"].format(order_no=order_no))
        if len(found) > 1:
            channels = ", ".join(sorted(r["channel"] for r in found))
            raise CancelRefused(SAID[lang]["several"].format(order_no=order_no, channels=channels))
        shipments = cur.execute(
            "SELECT shipment_id, location, status, carrier, tracking_no FROM shipment_tracking "
            "WHERE order_id = %s ORDER BY location",
            (found[0]["order_id"],),
        ).fetchall()
    return found[0], shipments


def outcome_lines(
    answer: list[tuple[str, dict[str, Any]]],
    shipments: list[dict[str, Any]],
    currency: str,
    lang: str,
) -> list[str]:
    """What the engine did, in words: ``answer`` is the (event or reply name, payload)
    the command caused; ``shipments`` the order's shipments as the projection saw them."""
    said = SAID[lang]
    lines: list[str] = []
    if not answer:
        return [said["already"]]
    for name, payload in answer:
        if name == "CommandRejected":
            message = payload["message_zh" if lang == "zh" else "message_en"]
            lines.append(said["refused"].format(code=payload["code"], message=message))
        elif name == "OrderCancelled":
            lines.append(said["released"].format(n=len(payload["releases"])))
            for s in shipments:
                if s["status"] in ("created", "picked", "packed"):
                    lines.append(
                        said["warehouse"].format(location=s["location"], shipment=s["shipment_id"])
                    )
                elif s["tracking_no"] and s["status"] != "cancelled":
                    # Shipped meanwhile: the shipment has the carrier intercept it.
                    lines.append(
                        said["intercept"].format(carrier=s["carrier"], tracking_no=s["tracking_no"])
                    )
        elif name == "CancellationRequested":
            wanted = set(payload["shipment_ids"])
            for s in shipments:
                if str(s["shipment_id"]) in wanted:
                    lines.append(
                        said["intercept"].format(carrier=s["carrier"], tracking_no=s["tracking_no"])
                    )
            lines.append(said["waiting"])
        elif name == "RefundDue":
            lines.append(
                said["refund"].format(amount=_money(payload["amount"]["amount"], currency))
            )
    return lines


@app.command()
@one_line_errors
def cancel(
    order_no: str = typer.Argument(..., help="Order number."),
    reason: str = typer.Option(..., "--reason", help="Why, for the customer and the log."),
    wait: float = typer.Option(30.0, "--wait", help="Seconds to wait for the engine's answer."),
    schema: str | None = SCHEMA,
) -> None:
    """Cancel ORDER_NO wherever it is, and print what happened.

    Before it ships its reservations are released and its warehouses told not to ship;
    once shipped the carrier is asked to intercept the parcel (拦截) and the order is
    cancelled when it comes back; a delivered order is refused (open a return or a
    refund). A paid order's money is asked back. Chinese output under LANG=zh_CN.UTF-8.

    Example: oms order cancel SO-1001 --reason "customer changed their mind"
    """
    lang = language()
    if not reason.strip():
        raise typer.BadParameter("--reason is empty: say why, e.g. --reason 'out of stock'")
    settings = get_settings()
    name = schema_or_setting(schema)
    with connect(settings.postgres.dsn, name, "oms-order-cancel", create=False) as conn:
        order, shipments = _target(conn, order_no, lang)
    if order["status"] == "cancelled":
        out.print(SAID[lang]["already"])
        return
    command = operator_commands.cancel(order["order_id"], reason)
    codec = codec_from_settings(settings)
    answer = send_and_wait(settings, codec, command, wait)
    topic = topics.name(settings, topics.commands("order"))
    out.print(SAID[lang]["sent"].format(order_no=order_no, topic=topic))
    if answer is None:
        out.print(SAID[lang]["silent"].format(wait=wait))
        raise typer.Exit(3)
    if answer.refusal is not None:
        said = [("CommandRejected", answer.refusal)]
    else:
        said = [(e.name, e.payload) for e in answer.events]
    for line in outcome_lines(said, shipments, order["currency"], lang):
        out.print(line)
    if answer.refused:
        raise typer.Exit(1)
