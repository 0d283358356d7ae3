"""``oms return``: returns (RMA, 退货) asked of the engine, and shown from the returns
projection.

Orders and returns are found by number in the projections (``order_tracking``,
``return_tracking``); lines are named by sku. The engine decides: the order refuses a
return of more than shipped minus already returned, the rules (settings ``returns``)
approve, reject or leave it to an operator (``oms return review``).
Labels follow the locale: LANG (or LC_ALL) starting with ``zh`` prints Chinese.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import psycopg
import typer
from psycopg.rows import dict_row
from rich.console import Console
from rich.table import Table

from oms_events import operator_commands
from oms_events.avro.registry import codec_from_settings
from oms_events.cli.errors import one_line_errors
from oms_events.cli.order import language
from oms_events.cli.project import SCHEMA, schema_or_setting
from oms_events.domain.money import is_currency, minor_units
from oms_events.engine.commands import (
    CancelReturn,
    Command,
    ExchangeLine,
    InspectedLine,
    InspectReturn,
    ReceivedLine,
    ReceiveReturn,
    ReturnLineRequest,
    ReviewReturn,
    ShipReturn,
)
from oms_events.engine.records import CommandWriter
from oms_events.kafka.connection import producer
from oms_events.projection.runner import connect
from oms_events.settings import Settings, get_settings

app = typer.Typer(
    help="Returns (RMA, 退货/换货/仅退款): request, ship, receive, inspect, review, cancel, show.",
    no_args_is_help=True,
)
out = Console()

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "return": "Return",
        "order": "Order",
        "status": "Status",
        "reason": "Reason",
        "kind": "Kind",
        "refund_only": "Refund only",
        "exchange": "Exchange",
        "return_goods": "Return",
        "decided": "Decided by",
        "parcel": "Parcel",
        "last_scan": "Last scan",
        "received": "Received at",
        "refund": "Refund",
        "line": "Line",
        "sku": "SKU",
        "qty": "Qty",
        "arrived": "Arrived",
        "outcome": "Inspection",
        "none": "No return found.",
    },
    "zh": {
        "return": "退货单",
        "order": "订单",
        "status": "状态",
        "reason": "原因",
        "kind": "类型",
        "refund_only": "仅退款",
        "exchange": "换货",
        "return_goods": "退货退款",
        "decided": "审核人",
        "parcel": "退货包裹",
        "last_scan": "最新轨迹",
        "received": "收货仓",
        "refund": "退款金额",
        "line": "行",
        "sku": "商品编码",
        "qty": "数量",
        "arrived": "到货",
        "outcome": "质检",
        "none": "未找到退货单。",
    },
}


class ReturnRefused(typer.BadParameter):
    """A return command the CLI cannot send (unknown order or return, bad line spec)."""


def _send(settings: Settings, command: Command) -> str:
    writer = CommandWriter(settings, codec_from_settings(settings))
    record = writer.record(command)
    p = producer(settings)
    try:
        p.send(record.topic, record.value, key=record.key, headers=record.headers).get(30)
    finally:
        p.close()
    return record.topic


def parse_quantities(specs: list[str], option: str, example: str) -> list[tuple[str, int]]:
    """``SKU:QTY`` specs of ``option`` as (sku, units); a sku may hold colons."""
    found: list[tuple[str, int]] = []
    for spec in specs:
        sku, sep, qty = spec.rpartition(":")
        if not sep or not sku or not qty.isdigit() or int(qty) <= 0:
            raise ReturnRefused(f"{option} {spec!r}: write SKU:QTY, e.g. {example}")
        found.append((sku, int(qty)))
    return found


def _rows(conn: psycopg.Connection[Any], query: str, *args: Any) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, args).fetchall()


def _return(conn: psycopg.Connection[Any], return_no: str) -> dict[str, Any]:
    found = _rows(conn, "SELECT * FROM return_tracking WHERE return_no = %s", return_no)
    if not found:
        raise ReturnRefused(f"no return {return_no} in the returns projection (oms project)")
    return found[0]


def _line_of(ret: dict[str, Any], sku: str) -> int:
    lines = [ln["line_no"] for ln in ret["lines"] if ln["sku"] == sku]
    if len(lines) != 1:
        where = f"on lines {lines}" if lines else "not in the return"
        raise ReturnRefused(f"sku {sku} is {where} {ret['return_no']}")
    return int(lines[0])


@app.command()
@one_line_errors
def request(
    order_no: Annotated[str, typer.Argument(help="Order number.")],
    line: Annotated[
        list[str],
        typer.Option("--line", help="SKU:QTY units coming back; repeat for more lines."),
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="Reason code, e.g. no_reason_7d, quality, missing.")
    ],
    refund_only: Annotated[
        bool, typer.Option("--refund-only", help="Money back without a parcel (仅退款).")
    ] = False,
    exchange: Annotated[
        list[str] | None,
        typer.Option("--exchange", help="SKU:QTY sent instead (换货); repeat for more."),
    ] = None,
    return_no: Annotated[
        str | None, typer.Option("--return-no", help="Our RMA number (default: a new one).")
    ] = None,
    schema: str | None = SCHEMA,
) -> None:
    """Ask the engine to take a return of ORDER_NO's shipped lines.

    Example: oms return request SO-1001 --line SKU-TEA-001:1 --reason quality
    """
    settings = get_settings()
    policy = settings.returns.policy()
    if reason not in policy.reasons:
        codes = ", ".join(f"{c} ({policy.label(c, 'zh')})" for c in sorted(policy.reasons))
        raise ReturnRefused(f"--reason {reason!r} is unknown; use one of: {codes}")
    wanted = parse_quantities(line, "--line", "SKU-TEA-001:1")
    swaps = parse_quantities(exchange or [], "--exchange", "SKU-TEA-002:1")
    with connect(settings.postgres.dsn, schema_or_setting(schema), "oms-return", create=False) as c:
        orders = _rows(c, "SELECT order_id FROM order_tracking WHERE order_no = %s", order_no)
        if len(orders) != 1:
            raise ReturnRefused(
                f"order number {order_no} is " + ("ambiguous" if orders else "not found")
            )
        open_lines = _rows(
            c,
            "SELECT line_no, sku FROM order_line WHERE order_id = %s AND status <> 'removed'",
            orders[0]["order_id"],
        )
    lines = []
    for sku, qty in wanted:
        nos = [r["line_no"] for r in open_lines if r["sku"] == sku]
        if len(nos) != 1:
            raise ReturnRefused(f"--line {sku}: " + (f"on lines {nos}" if nos else "not ordered"))
        lines.append(ReturnLineRequest(line_no=nos[0], quantity=qty))
    command = operator_commands.request_return(
        orders[0]["order_id"],
        lines,
        reason,
        policy.reasons,
        refund_only=refund_only,
        exchange=[ExchangeLine(sku=s, quantity=q) for s, q in swaps],
        return_no=return_no,
    )
    number = command.return_no
    topic = _send(settings, command)
    out.print(f"RequestReturn {order_no} return {number} -> {topic}")


def _send_to_return(return_no: str, schema: str | None, build: Any, name: str) -> None:
    settings = get_settings()
    with connect(settings.postgres.dsn, schema_or_setting(schema), "oms-return", create=False) as c:
        ret = _return(c, return_no)
    command = build(ret)
    topic = _send(settings, command)
    out.print(f"{name} {return_no} -> {topic}")


@app.command()
@one_line_errors
def ship(
    return_no: Annotated[str, typer.Argument(help="Return number.")],
    carrier: Annotated[str, typer.Option("--carrier", help="Carrier code, e.g. SF.")],
    tracking_no: Annotated[str, typer.Option("--tracking-no", help="The parcel's waybill.")],
    schema: str | None = SCHEMA,
) -> None:
    """Record the customer's parcel (carrier + waybill); the carrier's scans follow it.

    Example: oms return ship RMA-1 --carrier SF --tracking-no SF1234567890123
    """
    _send_to_return(
        return_no,
        schema,
        lambda r: ShipReturn(
            command_id=str(uuid.uuid4()),
            return_id=r["return_id"],
            carrier=carrier,
            tracking_no=tracking_no,
        ),
        "ShipReturn",
    )


@app.command()
@one_line_errors
def receive(
    return_no: Annotated[str, typer.Argument(help="Return number.")],
    location: Annotated[str, typer.Option("--location", help="Warehouse or store id.")],
    line: Annotated[
        list[str] | None,
        typer.Option("--line", help="SKU:QTY arrived; repeat (default: everything requested)."),
    ] = None,
    schema: str | None = SCHEMA,
) -> None:
    """Record the goods of RETURN_NO arrived at a location.

    Example: oms return receive RMA-1 --location WH-SH
    """
    arrived = parse_quantities(line or [], "--line", "SKU-TEA-001:1")
    _send_to_return(
        return_no,
        schema,
        lambda r: ReceiveReturn(
            command_id=str(uuid.uuid4()),
            return_id=r["return_id"],
            location=location,
            lines=tuple(ReceivedLine(line_no=_line_of(r, s), quantity=q) for s, q in arrived),
        ),
        "ReceiveReturn",
    )


def parse_verdicts(ret: dict[str, Any], specs: list[str]) -> tuple[InspectedLine, ...]:
    """``SKU:resellable`` / ``SKU:damaged:WHY`` specs as the return's inspected lines."""
    found = []
    for spec in specs:
        # SKU:OUTCOME[:REASON]; a sku or a reason may hold colons, the outcome word not.
        parts = spec.split(":")
        at = next((i for i, p in enumerate(parts) if p in ("resellable", "damaged")), 0)
        sku, outcome, reason = ":".join(parts[:at]), parts[at], ":".join(parts[at + 1 :])
        if not sku or outcome not in ("resellable", "damaged"):
            raise ReturnRefused(
                f"--line {spec!r}: write SKU:resellable or SKU:damaged:REASON, "
                "e.g. SKU-TEA-001:damaged:crushed"
            )
        if outcome == "damaged" and not reason:
            raise ReturnRefused(f"--line {spec!r}: a damaged line needs a reason (SKU:damaged:WHY)")
        found.append(
            InspectedLine(
                line_no=_line_of(ret, sku),
                outcome="damaged" if outcome == "damaged" else "resellable",
                reason=reason or None,
            )
        )
    return tuple(found)


@app.command()
@one_line_errors
def inspect(
    return_no: Annotated[str, typer.Argument(help="Return number.")],
    line: Annotated[
        list[str],
        typer.Option("--line", help="SKU:resellable or SKU:damaged:REASON, one per returned line."),
    ],
    schema: str | None = SCHEMA,
) -> None:
    """Judge the returned goods: resellable lines go back on sale, damaged ones are
    written off; the refund follows.

    Example: oms return inspect RMA-1 --line SKU-TEA-001:resellable --line SKU-CUP:damaged:cracked
    """
    _send_to_return(
        return_no,
        schema,
        lambda r: InspectReturn(
            command_id=str(uuid.uuid4()), return_id=r["return_id"], lines=parse_verdicts(r, line)
        ),
        "InspectReturn",
    )


@app.command()
@one_line_errors
def review(
    return_no: Annotated[str, typer.Argument(help="Return number.")],
    by: Annotated[str, typer.Option("--by", help="Who decides (the operator's name).")],
    reject: Annotated[
        str | None, typer.Option("--reject", help="Reject, with this reason.")
    ] = None,
    schema: str | None = SCHEMA,
) -> None:
    """Approve a return the rules left for review (or --reject it with a reason).

    Example: oms return review RMA-1 --by alice    (or: --reject "worn, tags removed")
    """
    _send_to_return(
        return_no,
        schema,
        lambda r: ReviewReturn(
            command_id=str(uuid.uuid4()),
            return_id=r["return_id"],
            decision="reject" if reject else "approve",
            by=by,
            reason=reject,
        ),
        "ReviewReturn",
    )


@app.command()
@one_line_errors
def cancel(
    return_no: Annotated[str, typer.Argument(help="Return number.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the customer withdraws it.")],
    schema: str | None = SCHEMA,
) -> None:
    """Withdraw a return before its goods arrive; its units may be returned again and an
    exchange's replacement order is cancelled.

    Example: oms return cancel RMA-1 --reason "customer kept it"
    """
    _send_to_return(
        return_no,
        schema,
        lambda r: CancelReturn(
            command_id=str(uuid.uuid4()), return_id=r["return_id"], reason=reason
        ),
        "CancelReturn",
    )


def _money(amount: int | None, currency: str) -> str:
    if amount is None:
        return "-"
    exponent = minor_units(currency) if is_currency(currency) else 2
    return f"{amount / 10**exponent:,.{exponent}f} {currency}"


def render(ret: dict[str, Any], order_no: str, lang: str) -> None:
    """Print one return: header and lines."""
    t = LABELS[lang]
    policy = get_settings().returns.policy()
    kind = (
        t["refund_only"]
        if ret["refund_only"]
        else t["exchange"]
        if ret["exchange_order_id"]
        else t["return_goods"]
    )
    parcel = f"{ret['carrier']} {ret['tracking_no']}" if ret["carrier"] else "-"
    scan = (
        f"{ret['last_scan_status']} {ret['last_scan_location'] or ''} {ret['last_scan_at']:%F %T}"
        if ret["last_scan_at"]
        else "-"
    )
    head = Table.grid(padding=(0, 2))
    for label, value in [
        (t["return"], ret["return_no"]),
        (t["order"], order_no),
        (t["status"], ret["status"]),
        (t["kind"], kind),
        (t["reason"], f"{policy.label(ret['reason'], lang)} ({ret['reason']})"),
        (t["decided"], ret["decided_by"] or "-"),
        (t["parcel"], parcel),
        (t["last_scan"], scan),
        (t["received"], ret["location"] or "-"),
        (t["refund"], _money(ret["refund_amount"], ret["currency"])),
    ]:
        head.add_row(f"[bold]{label}[/]", str(value))
    out.print(head)
    lines = Table(t["line"], t["sku"], t["qty"], t["arrived"], t["outcome"])
    for ln in ret["lines"]:
        outcome = ln["outcome"] or "-"
        if ln.get("outcome_reason") and ln["outcome"] == "damaged":
            outcome += f" ({ln['outcome_reason']})"
        arrived = "-" if ln["received"] is None else str(ln["received"])
        lines.add_row(str(ln["line_no"]), ln["sku"], str(ln["quantity"]), arrived, outcome)
    out.print(lines)


@app.command()
@one_line_errors
def show(
    number: Annotated[str, typer.Argument(help="Return number, or an order number.")],
    schema: str | None = SCHEMA,
) -> None:
    """Print a return (or every return of an order).

    Example: oms return show RMA-1
    """
    settings = get_settings()
    lang = language()
    with connect(settings.postgres.dsn, schema_or_setting(schema), "oms-return", create=False) as c:
        found = _rows(
            c,
            "SELECT r.*, o.order_no FROM return_tracking r "
            "LEFT JOIN order_tracking o USING (order_id) "
            "WHERE r.return_no = %s OR o.order_no = %s ORDER BY r.requested_at",
            number,
            number,
        )
    if not found:
        out.print(LABELS[lang]["none"])
        raise typer.Exit(4)
    for ret in found:
        render(ret, ret["order_no"] or str(ret["order_id"]), lang)
