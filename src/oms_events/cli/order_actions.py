"""An operator's order actions: ``oms order hold | release | review | edit | pay |
reroute | merge | split | queue``.

Each action is a command carrying who did it (``--by``, default the OS user); the CLI
waits for the engine's answer and prints what happened, in Chinese under
LANG=zh_CN.UTF-8. A refusal is one line naming the rule, exit 1; no answer, exit 3.
"""

from __future__ import annotations

import getpass
import time
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

import typer
from psycopg.rows import dict_row
from rich.table import Table

from oms_events import operator_commands as build
from oms_events.answers import send_and_wait
from oms_events.avro.registry import codec_from_settings
from oms_events.cli.errors import one_line_errors
from oms_events.cli.order import _money, language, out
from oms_events.cli.project import SCHEMA, schema_or_setting
from oms_events.domain.money import is_currency, minor_units
from oms_events.engine.commands import (
    AddedLine,
    AddressDetails,
    Command,
    MergeOrders,
    NewQuantity,
    RecordOfflinePayment,
    RerouteOrder,
    SplitOrder,
)
from oms_events.engine.order_merging import group_id_of
from oms_events.projection.runner import connect
from oms_events.settings import get_settings

SAID: dict[str, dict[str, str]] = {
    "en": {
        "acted": "{action} by {actor}",
        "held": "held: {reason}",
        "released": "released from hold",
        "allocated": "allocated to {locations}",
        "reserved": "{n} line(s) reserved",
        "reserving": "stock asked for the changed lines",
        "added": "line {line_no} added: {sku} x {quantity}",
        "removed": "line {line_no} removed",
        "quantity": "line {line_no} quantity now {quantity}",
        "address": "address changed: {address}",
        "payment_due": "payment due: {amount} (new total {total})",
        "refund_due": "refund due: {amount} (new total {total})",
        "paid": "payment recorded: {amount} ({payment_id})",
        "cancelled": "rejected and cancelled: {n} reservation(s) released",
        "refused": "refused ({code}): {message}",
        "nothing": "nothing changed (already done)",
        "silent": "sent; the engine did not answer within {wait:g} s (is it running?)",
        "unknown": "no order {order_no} in the tracking projection; check the number "
        "(oms order show --phone ...)",
        "several": "order number {order_no} is on several channels: {channels}",
        "reroute_asked": "re-route {from_location} -> {to_location}: reserving {n} line(s) "
        "at {to_location}",
        "rerouted": "re-routed to {to_location}: {from_location}'s shipment withdrawn "
        "(its warehouse told), reservations released there",
        "reroute_failed": "re-route given up: {reason}; the order stays at its location",
        "reroute_pending": "the re-route is under way (not finished within {wait:g} s); "
        "see oms order show",
        "empty": "the review queue is empty",
        "queue": "Review queue",
        "merging": "merging {n} orders (group {group}): the others are asked to join",
        "merged": "merged: {n} orders ship as one parcel per location once all are allocated"
        " (group {group})",
        "merge_refused": "merge refused: {reason}; each order ships alone",
        "merge_pending": "the merge is under way (not settled within {wait:g} s); "
        "see oms order show",
        "split": "split by {by}: {n} line(s) backordered ({units} unit(s)); the rest is "
        "reserved and allocated now, the backorder when stock arrives",
        "split_location": "split by location: one parcel per location",
    },
    "zh": {
        "acted": "{actor} 执行 {action}",
        "held": "已挂起：{reason}",
        "released": "已解除挂起",
        "allocated": "已配货至 {locations}",
        "reserved": "已预占 {n} 行库存",
        "reserving": "已为修改的商品行申请库存",
        "added": "已新增第 {line_no} 行：{sku} x {quantity}",
        "removed": "已删除第 {line_no} 行",
        "quantity": "第 {line_no} 行数量改为 {quantity}",
        "address": "地址已修改：{address}",
        "payment_due": "待补款：{amount}（新订单金额 {total}）",
        "refund_due": "待退款：{amount}（新订单金额 {total}）",
        "paid": "已记录收款：{amount}（{payment_id}）",
        "cancelled": "审核拒绝，订单已取消：释放 {n} 个库存预占",
        "refused": "被拒绝（{code}）：{message}",
        "nothing": "无变化（已处理过）",
        "silent": "已发送；引擎 {wait:g} 秒内未答复（引擎是否在运行？）",
        "unknown": "跟踪投影中没有订单 {order_no}，请核对订单号（oms order show --phone ...）",
        "several": "订单号 {order_no} 存在于多个渠道：{channels}",
        "reroute_asked": "改仓 {from_location} -> {to_location}："
        "正在 {to_location} 预占 {n} 行库存",
        "rerouted": "已改仓至 {to_location}：{from_location} 的包裹已撤回（已通知仓库），"
        "原库存已释放",
        "reroute_failed": "改仓失败：{reason}；订单仍在原仓库",
        "reroute_pending": "改仓进行中（{wait:g} 秒内未完成），请用 oms order show 查看",
        "empty": "审单队列为空",
        "queue": "审单异常队列",
        "merging": "正在合并 {n} 个订单（合单组 {group}）：已通知其他订单加入",
        "merged": "已合单：{n} 个订单全部配货后按仓库合为一个包裹发出（合单组 {group}）",
        "merge_refused": "合单被拒绝：{reason}；各订单分别发货",
        "merge_pending": "合单处理中（{wait:g} 秒内未完成），请用 oms order show 查看",
        "split": "已按{by}拆单：{n} 行缺货待发（{units} 件）；"
        "其余现在预占并配货，缺货部分到货后配货",
        "split_location": "已按仓库拆单：每个仓库一个包裹",
    },
}

BY = typer.Option(
    None, "--by", help="Who acts, recorded on the order (default: your OS user name)."
)
WAIT = typer.Option(None, "--wait", help="Seconds to wait for the engine's answer.")
ORDER_NOS = typer.Argument(..., help="Order numbers (two or more; the first leads).")
ADD = typer.Option([], "--add", help="Add a line SKU:QTY:PRICE (repeatable).")
REMOVE = typer.Option([], "--remove", help="Remove line LINE (repeatable).")
QTY = typer.Option([], "--qty", help="Set a line's quantity LINE:QTY (repeatable).")
ADDRESS = typer.Option(None, "--address", help="New address COUNTRY|PROVINCE|CITY|DISTRICT|LINE1.")


class OrderNotFound(typer.BadParameter):
    """An order number the tracking projection does not know (or knows twice)."""


def refused(error: build.ActionRefused) -> typer.BadParameter:
    """A builder's refusal in the CLI's words: the field as its option (--reason ...)."""
    text = str(error)
    return typer.BadParameter(f"--{text}" if text.startswith(f"{error.field} ") else text)


def actor_or_user(by: str | None) -> str:
    """``--by``, else the OS user: every action names a person."""
    name = (by or getpass.getuser() or "").strip()
    if not name:
        raise typer.BadParameter("--by is empty: say who acts, e.g. --by zhang.san")
    return name


def find_order(order_no: str, schema: str | None, lang: str) -> dict[str, Any]:
    """The order's tracking row (order_id, status, currency) by its number."""
    settings = get_settings()
    with (
        connect(
            settings.postgres.dsn, schema_or_setting(schema), "oms-order-act", create=False
        ) as conn,
        conn.cursor(row_factory=dict_row) as cur,
    ):
        found = cur.execute(
            "SELECT order_id, order_no, channel, status, currency FROM order_tracking "
            "WHERE order_no = %s",
            (order_no,),
        ).fetchall()
    if not found:
        raise OrderNotFound(SAID[lang]["unknown"].format(order_no=order_no))
    if len(found) > 1:
        channels = ", ".join(sorted(r["channel"] for r in found))
        raise OrderNotFound(SAID[lang]["several"].format(order_no=order_no, channels=channels))
    return found[0]


def answer_lines(answer: list[tuple[str, dict[str, Any]]], currency: str, lang: str) -> list[str]:
    """What the engine did, in words: ``answer`` is the (event or reply name, payload)
    list the command caused."""
    said = SAID[lang]
    lines: list[str] = []
    for name, p in answer:
        if name == "CommandRejected":
            message = p["message_zh" if lang == "zh" else "message_en"]
            lines.append(said["refused"].format(code=p["code"], message=message))
        elif name == "OperatorActed":
            lines.append(said["acted"].format(action=p["action"], actor=p["actor"]))
        elif name == "OrderHeld":
            lines.append(said["held"].format(reason=p["reason"]))
        elif name == "OrderReleased":
            lines.append(said["released"])
        elif name == "OrderAllocated":
            locations = ", ".join(sorted({a["location"] for a in p["allocations"]}))
            lines.append(said["allocated"].format(locations=locations))
        elif name == "LinesReserved":
            lines.append(said["reserved"].format(n=len(p["reservations"])))
        elif name == "LineAdded":
            line = p["line"]
            lines.append(
                said["added"].format(
                    line_no=line["line_no"], sku=line["sku"], quantity=line["quantity"]
                )
            )
        elif name == "LineRemoved":
            lines.append(said["removed"].format(line_no=p["line_no"]))
        elif name == "QuantityChanged":
            lines.append(said["quantity"].format(line_no=p["line_no"], quantity=p["quantity"]))
        elif name == "AddressChanged":
            a = p["address"]
            parts = [a.get(k) for k in ("province", "city", "district", "line1")]
            lines.append(said["address"].format(address=" ".join(x for x in parts if x)))
        elif name in ("PaymentDue", "RefundDue"):
            key = "payment_due" if name == "PaymentDue" else "refund_due"
            lines.append(
                said[key].format(
                    amount=_money(p["amount"]["amount"], currency),
                    total=_money(p["total"]["amount"], currency),
                )
            )
        elif name == "PaymentRecorded":
            lines.append(
                said["paid"].format(
                    amount=_money(p["amount"]["amount"], currency), payment_id=p["payment_id"]
                )
            )
        elif name == "OrderCancelled":
            lines.append(said["cancelled"].format(n=len(p["releases"])))
        elif name == "RerouteRequested":
            lines.append(
                said["reroute_asked"].format(
                    from_location=p["from_location"],
                    to_location=p["to_location"],
                    n=len(p["lines"]),
                )
            )
        elif name == "AllocationRerouted":
            lines.append(
                said["rerouted"].format(
                    from_location=p["from_location"], to_location=p["to_location"]
                )
            )
        elif name == "RerouteFailed":
            lines.append(said["reroute_failed"].format(reason=p["reason"]))
        elif name == "MergeRequested":
            group = str(p["group_id"])[:8]
            lines.append(said["merging"].format(n=len(p["order_ids"]), group=group))
        elif name == "MergeFormed":
            lines.append(
                said["merged"].format(n=p.get("orders", "all"), group=str(p["group_id"])[:8])
            )
        elif name == "MergeLeft":
            lines.append(said["merge_refused"].format(reason=p["reason"]))
        elif name == "OrderSplit" and p["by"] == "location":
            lines.append(said["split_location"])
        elif name == "OrderSplit":
            # Units backordered: the new lines' (cut lines' short units) and whole lines'.
            added = {a["line_no"]: a["quantity"] for a in p["added"]}
            units = sum(added.get(n, 0) for n in p["backordered"])
            by = "库存" if lang == "zh" else p["by"]
            lines.append(said["split"].format(by=by, n=len(p["backordered"]), units=units))
    return lines or [said["nothing"]]


def send(command: Command, currency: str, wait: float | None, lang: str) -> list[Any]:
    """Send ``command``, print the engine's answer; exit 1 on a refusal, 3 on silence.
    Returns the answer's events."""
    settings = get_settings()
    wait_s = wait if wait is not None else settings.review.answer_wait_s
    codec = codec_from_settings(settings)
    answer = send_and_wait(settings, codec, command, wait_s)
    if answer is None:
        out.print(SAID[lang]["silent"].format(wait=wait_s))
        raise typer.Exit(3)
    if answer.refusal is not None:
        said = [("CommandRejected", answer.refusal)]
    else:
        said = [(e.name, e.payload) for e in answer.events]
    for line in answer_lines(said, currency, lang):
        out.print(line, highlight=False)
    if answer.refused:
        raise typer.Exit(1)
    return answer.events


def _new_id() -> str:
    return str(uuid.uuid4())


# --- the commands -------------------------------------------------------------------


@one_line_errors
def hold(
    order_no: str = typer.Argument(..., help="Order number."),
    reason: str = typer.Option(..., "--reason", help="Why, for the queue and the log."),
    by: str | None = BY,
    wait: float | None = WAIT,
    schema: str | None = SCHEMA,
) -> None:
    """Hold ORDER_NO before it goes to a warehouse (refused once allocated).

    Example: oms order hold SO-1001 --reason "customer asked to wait"
    """
    lang = language()
    actor = actor_or_user(by)
    order = find_order(order_no, schema, lang)
    try:
        command = build.hold(order["order_id"], reason, actor)
    except build.ActionRefused as error:
        raise refused(error) from None
    send(command, order["currency"], wait, lang)


@one_line_errors
def release(
    order_no: str = typer.Argument(..., help="Order number."),
    reason: str = typer.Option("", "--reason", help="Why, for the log (optional)."),
    by: str | None = BY,
    wait: float | None = WAIT,
    schema: str | None = SCHEMA,
) -> None:
    """Release a held ORDER_NO: it is allocated when reserved and paid, else waits.

    Example: oms order release SO-1001
    """
    lang = language()
    order = find_order(order_no, schema, lang)
    command = build.release(order["order_id"], reason, actor_or_user(by))
    send(command, order["currency"], wait, lang)


@one_line_errors
def review(
    order_no: str = typer.Argument(..., help="Order number."),
    approve: bool | None = typer.Option(
        None, "--approve/--reject", help="Approve (release) or reject (cancel) the order."
    ),
    reason: str = typer.Option("", "--reason", help="Why; required to reject."),
    by: str | None = BY,
    wait: float | None = WAIT,
    schema: str | None = SCHEMA,
) -> None:
    """Review (审单) a held ORDER_NO: --approve allocates it, --reject cancels it.

    Approving sends it on to allocation (it is not reviewed again); rejecting cancels it
    and releases its stock.

    Example: oms order review SO-1001 --approve --reason "called the customer"
    """
    lang = language()
    if approve is None:
        raise typer.BadParameter("give --approve or --reject")
    try:
        build.check_review(approve, reason)
    except build.ActionRefused as error:
        raise refused(error) from None
    order = find_order(order_no, schema, lang)
    command = build.review(order["order_id"], approve, reason, actor_or_user(by))
    send(command, order["currency"], wait, lang)


def minor(amount: str, currency: str, what: str) -> int:
    """``amount`` (e.g. 12.50) in minor units of ``currency``; BadParameter naming
    ``what`` when it is not a number with at most the currency's decimals."""
    exponent = minor_units(currency) if is_currency(currency) else 2
    try:
        value = Decimal(amount.strip())
    except InvalidOperation:
        raise typer.BadParameter(f"{what} {amount!r} is not a number, e.g. 12.50") from None
    scaled = value.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise typer.BadParameter(f"{what} {amount!r} has more than {exponent} decimals")
    return int(scaled)


def parse_add(value: str, currency: str) -> AddedLine:
    """``SKU:QTY:PRICE`` (price per unit, e.g. 12.50) as a line to add."""
    parts = value.rsplit(":", 2)
    if len(parts) != 3 or not parts[0].strip() or not parts[1].strip().isdigit():
        raise typer.BadParameter(f"--add {value!r}: use SKU:QTY:PRICE, e.g. --add A1:2:12.50")
    return AddedLine(
        sku=parts[0].strip(),
        quantity=int(parts[1]),
        unit_price=minor(parts[2], currency, "--add price"),
    )


def parse_qty(value: str) -> NewQuantity:
    """``LINE:QTY`` as a new quantity."""
    line, _, qty = value.partition(":")
    if not (line.strip().isdigit() and qty.strip().isdigit()):
        raise typer.BadParameter(f"--qty {value!r}: use LINE:QTY, e.g. --qty 1:3")
    return NewQuantity(line_no=int(line), quantity=int(qty))


def parse_address(value: str) -> AddressDetails:
    """``COUNTRY|PROVINCE|CITY|DISTRICT|LINE1`` as an address."""
    parts = [p.strip() for p in value.split("|")]
    if len(parts) != 5 or not parts[0] or not parts[4]:
        raise typer.BadParameter(
            f"--address {value!r}: use COUNTRY|PROVINCE|CITY|DISTRICT|LINE1, "
            "e.g. --address 'CN|广东省|深圳市|南山区|科技园路1号'"
        )
    country, province, city, district, line1 = parts
    return AddressDetails(
        country=country,
        province=province or None,
        city=city or None,
        district=district or None,
        line1=line1,
    )


@one_line_errors
def edit(
    order_no: str = typer.Argument(..., help="Order number."),
    add: list[str] = ADD,
    remove: list[int] = REMOVE,
    qty: list[str] = QTY,
    address: str | None = ADDRESS,
    reason: str = typer.Option("", "--reason", help="Why, for the log (optional)."),
    by: str | None = BY,
    wait: float | None = WAIT,
    schema: str | None = SCHEMA,
) -> None:
    """Edit ORDER_NO's lines, quantities or address before allocation.

    Stock follows; a paid order owes the difference (PaymentDue, collect it with
    `oms order pay`) or is owed it back (RefundDue).

    Example: oms order edit SO-1001 --add A1:2:12.50 --remove 3 --qty 1:4
    """
    lang = language()
    order = find_order(order_no, schema, lang)
    currency = order["currency"]
    try:
        command = build.edit(
            order["order_id"],
            actor_or_user(by),
            add=[parse_add(a, currency) for a in add],
            remove=remove,
            quantities=[parse_qty(q) for q in qty],
            address=parse_address(address) if address else None,
            reason=reason,
        )
    except build.ActionRefused:
        raise typer.BadParameter(
            "nothing to edit: give --add, --remove, --qty or --address"
        ) from None
    send(command, currency, wait, lang)


@one_line_errors
def pay(
    order_no: str = typer.Argument(..., help="Order number."),
    amount: str = typer.Option(..., "--amount", help="Amount received, e.g. 12.50."),
    method: str = typer.Option(..., "--method", help="bank_transfer, cash or postal_remittance."),
    reference: str = typer.Option(
        ...,
        "--reference",
        help="The bank's or the till's reference; the same one twice records one payment.",
    ),
    by: str | None = BY,
    wait: float | None = WAIT,
    schema: str | None = SCHEMA,
) -> None:
    """Record money ORDER_NO's customer paid by bank transfer or cash (offline).

    The order is paid by it and the payment ledger shows it under its method.

    Example: oms order pay SO-1001 --amount 12.50 --method bank_transfer --reference TX-889
    """
    lang = language()
    order = find_order(order_no, schema, lang)
    currency = order["currency"]
    command = RecordOfflinePayment(
        command_id=_new_id(),
        order_id=order["order_id"],
        amount=minor(amount, currency, "--amount"),
        currency=currency,
        method=method,
        reference=reference,
        actor=actor_or_user(by),
    )
    send(command, currency, wait, lang)


@one_line_errors
def reroute(
    order_no: str = typer.Argument(..., help="Order number."),
    from_location: str = typer.Option(..., "--from", help="Location it is allocated at."),
    to_location: str = typer.Option(..., "--to", help="Location to ship it from instead."),
    by: str | None = BY,
    wait: float | None = WAIT,
    schema: str | None = SCHEMA,
) -> None:
    """Move ORDER_NO's lines allocated at --from to --to, before the warehouse picks.

    The lines are reserved at --to first; then the --from shipment is withdrawn (its
    warehouse told, refused once picked) and its reservations released; the new
    location gets the allocation. If --to lacks stock nothing moves.

    Example: oms order reroute SO-1001 --from WH-SH --to WH-BJ
    """
    lang = language()
    order = find_order(order_no, schema, lang)
    command = RerouteOrder(
        command_id=_new_id(),
        order_id=order["order_id"],
        from_location=from_location,
        to_location=to_location,
        actor=actor_or_user(by),
    )
    events = send(command, order["currency"], wait, lang)
    asked = [e for e in events if e.name == "RerouteRequested"]
    if not asked:
        return
    # The move finishes after the inventory and the shipment answered: read its outcome
    # from the order's timeline (the tracking projection).
    wait_s = wait if wait is not None else get_settings().review.answer_wait_s
    outcome = _timeline_outcome(
        order["order_id"],
        asked[0].originator_version,
        ("AllocationRerouted", "RerouteFailed"),
        schema,
        wait_s,
    )
    if outcome is None:
        out.print(SAID[lang]["reroute_pending"].format(wait=wait_s))
        raise typer.Exit(3)
    for line in answer_lines([outcome], order["currency"], lang):
        out.print(line, highlight=False)
    if outcome[0] == "RerouteFailed":
        raise typer.Exit(1)


def _timeline_outcome(
    order_id: Any, since: int, names: tuple[str, ...], schema: str | None, wait_s: float
) -> tuple[str, dict[str, Any]] | None:
    """The first of the order's events ``names`` after version ``since``, or None."""
    settings = get_settings()
    deadline = time.monotonic() + wait_s
    with connect(
        settings.postgres.dsn, schema_or_setting(schema), "oms-order-outcome", create=False
    ) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT event, detail FROM order_timeline WHERE order_id = %s "
                "AND aggregate = 'order' AND version > %s "
                "AND event = ANY(%s) ORDER BY version LIMIT 1",
                (order_id, since, list(names)),
            ).fetchone()
            conn.commit()
            if row is not None:
                return row[0], row[1]
            time.sleep(0.2)
    return None


@one_line_errors
def queue(schema: str | None = SCHEMA) -> None:
    """List the orders on hold (the review queue, 审单异常), oldest first.

    The reason names the review rules an order failed; act on it with
    `oms order review` or `oms order release`.

    Example: oms order queue
    """
    lang = language()
    settings = get_settings()
    with (
        connect(
            settings.postgres.dsn, schema_or_setting(schema), "oms-order-queue", create=False
        ) as conn,
        conn.cursor(row_factory=dict_row) as cur,
    ):
        rows = cur.execute(
            "SELECT order_no, channel, customer_name, order_total, currency, hold_reason, "
            "held_at FROM review_queue ORDER BY held_at, order_no"
        ).fetchall()
    if not rows:
        out.print(SAID[lang]["empty"])
        return
    zh = lang == "zh"
    table = Table(
        "订单" if zh else "Order",
        "渠道" if zh else "Channel",
        "客户" if zh else "Customer",
        "金额" if zh else "Total",
        "原因" if zh else "Reason",
        "时间" if zh else "Since",
        title=SAID[lang]["queue"],
    )
    for r in rows:
        table.add_row(
            r["order_no"],
            r["channel"],
            r["customer_name"],
            _money(r["order_total"], r["currency"]),
            r["hold_reason"] or "-",
            r["held_at"].strftime("%Y-%m-%d %H:%M:%S"),
        )
    out.print(table)


@one_line_errors
def merge(
    order_nos: list[str] = ORDER_NOS,
    by: str | None = BY,
    wait: float | None = WAIT,
    schema: str | None = SCHEMA,
) -> None:
    """Merge (合单) open orders of one customer and address into one parcel per location.

    The orders must be paid (not cash on delivery), not yet allocated (held for review,
    say, or waiting for stock), of one customer (a phone or account they share), one
    address, one channel and placed within OMS_ENGINE_MERGE_WINDOW_S. Each order keeps
    its number, refunds and returns; the warehouse gets one allocation (one parcel,
    one waybill) for the group once every order is allocated.

    Example: oms order merge SO-1001 SO-1002 --by zhang.san
    """
    lang = language()
    if len(set(order_nos)) < 2:
        raise typer.BadParameter("give two or more different order numbers, e.g. SO-1 SO-2")
    found = [find_order(n, schema, lang) for n in dict.fromkeys(order_nos)]
    ids = [uuid.UUID(str(o["order_id"])) for o in found]
    group = group_id_of(ids)
    command = MergeOrders(
        command_id=_new_id(),
        order_id=ids[0],
        group_id=group,
        order_ids=tuple(ids),
        actor=actor_or_user(by),
    )
    events = send(command, found[0]["currency"], wait, lang)
    asked = [e for e in events if e.name == "MergeRequested"]
    if not asked:
        return
    # The members answer the lead afterwards: read the group's outcome from the lead's
    # timeline (the tracking projection).
    wait_s = wait if wait is not None else get_settings().review.answer_wait_s
    outcome = _timeline_outcome(
        found[0]["order_id"],
        asked[0].originator_version,
        ("MergeFormed", "MergeLeft"),
        schema,
        wait_s,
    )
    if outcome is None:
        out.print(SAID[lang]["merge_pending"].format(wait=wait_s))
        raise typer.Exit(3)
    name, detail = outcome
    for line in answer_lines([(name, {**detail, "orders": len(ids)})], found[0]["currency"], lang):
        out.print(line, highlight=False)
    if name == "MergeLeft":
        raise typer.Exit(1)


@one_line_errors
def split(
    order_no: str = typer.Argument(..., help="Order number."),
    by: str = typer.Option(
        ...,
        "--by",
        help="availability: ship what is in stock, backorder the rest; "
        "location: one parcel per location.",
    ),
    actor: str | None = typer.Option(
        None, "--actor", help="Who acts, recorded on the order (default: your OS user name)."
    ),
    reason: str = typer.Option("", "--reason", help="Why, for the log (optional)."),
    wait: float | None = WAIT,
    schema: str | None = SCHEMA,
) -> None:
    """Split (拆单) ORDER_NO before allocation.

    --by availability: what is in stock now is reserved and allocated; a line short of
    units is cut in two (its discount shared to the fen) and the units short wait as a
    backorder, allocated in a parcel of its own when stock arrives (oms stock receive).
    --by location: the lines ship one parcel per location they are reserved at.

    Example: oms order split SO-1001 --by availability --actor zhang.san
    """
    lang = language()
    if by not in ("availability", "location"):
        raise typer.BadParameter(f"--by {by!r}: give --by availability or --by location")
    order = find_order(order_no, schema, lang)
    command = SplitOrder(
        command_id=_new_id(),
        order_id=order["order_id"],
        by=by,  # type: ignore[arg-type]
        actor=actor_or_user(actor),
        reason=reason,
    )
    send(command, order["currency"], wait, lang)


def register(app: typer.Typer) -> None:
    """Add the operator's actions to the ``oms order`` group."""
    for fn in (hold, release, review, edit, pay, reroute, merge, split, queue):
        app.command(fn.__name__)(fn)
