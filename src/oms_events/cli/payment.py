"""``oms payment show`` and ``oms refund``: an order's money from the payments
projection, and a refund asked of the engine.

A refund names lines by sku (``--line SKU:QTY``, resolved against the order's open
lines in the tracking projection) and the engine prices it: a line's units at their
net after promotions, the shipping fee with ``--shipping``; neither gives back
everything not refunded yet. The refund id is the providers' idempotency key: give
``--refund-id`` to make a script's retry safe.
"""

from __future__ import annotations

from typing import Annotated, Any

import psycopg
import typer
from psycopg.rows import dict_row
from rich.console import Console
from rich.table import Table

from oms_events import operator_commands
from oms_events.avro.registry import codec_from_settings
from oms_events.cli.errors import one_line_errors
from oms_events.cli.project import SCHEMA, schema_or_setting
from oms_events.engine.commands import LineRefund
from oms_events.engine.records import CommandWriter
from oms_events.kafka.connection import producer
from oms_events.projection.runner import connect
from oms_events.settings import get_settings

app = typer.Typer(help="An order's money: payments, refunds, ledger.", no_args_is_help=True)
out = Console()


class RefundRefused(typer.BadParameter):
    """A refund the CLI cannot ask for (unknown order, ambiguous or unknown sku)."""


def _money(amount: int, currency: str) -> str:
    return f"{amount / 100:,.2f} {currency}"


def _order(conn: psycopg.Connection[Any], order_no: str) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        found = cur.execute(
            "SELECT order_id, order_no, channel, currency, amount_paid, amount_refunded "
            "FROM order_tracking WHERE order_no = %s",
            (order_no,),
        ).fetchall()
    if not found:
        raise RefundRefused(f"no order {order_no} in the tracking projection")
    if len(found) > 1:
        channels = ", ".join(sorted(r["channel"] for r in found))
        raise RefundRefused(f"order number {order_no} is on several channels: {channels}")
    return found[0]


def parse_lines(specs: list[str], open_lines: list[tuple[int, str, int]]) -> tuple[LineRefund, ...]:
    """``SKU:QTY`` specs as line refunds against the order's open lines
    ((line no, sku, quantity)); a sku on several lines is refused (ambiguous)."""
    refunds: list[LineRefund] = []
    for spec in specs:
        sku, sep, qty = spec.rpartition(":")
        if not sep or not sku or not qty.isdigit() or int(qty) <= 0:
            raise RefundRefused(f"--line {spec!r}: write SKU:QTY, e.g. SKU-TEA-001:1")
        lines = [n for n, s, _ in open_lines if s == sku]
        if len(lines) != 1:
            where = f"on lines {lines}" if lines else "not on the order"
            raise RefundRefused(f"sku {sku} is {where}")
        refunds.append(LineRefund(line_no=lines[0], quantity=int(qty)))
    return tuple(refunds)


@one_line_errors
def refund(
    order_no: Annotated[str, typer.Argument(help="Order number.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the money goes back.")],
    line: Annotated[
        list[str] | None,
        typer.Option("--line", help="SKU:QTY units of a line to refund; repeat for more lines."),
    ] = None,
    shipping: Annotated[bool, typer.Option("--shipping", help="Refund the shipping fee.")] = False,
    refund_id: Annotated[
        str | None, typer.Option("--refund-id", help="Idempotency key [default: a new one].")
    ] = None,
    schema: str | None = SCHEMA,
) -> None:
    """Ask the engine to refund ORDER_NO: lines by unit, the shipping fee, or (neither
    given) everything not refunded yet. The order prices it; the money goes back to
    the tenders it came from.

    Example: oms refund SO-1001 --line SKU-TEA-001:1 --reason "damaged in transit"
    """
    specs = line or []
    settings = get_settings()
    name = schema_or_setting(schema)
    with connect(settings.postgres.dsn, name, "oms-refund", create=False) as conn:
        order = _order(conn, order_no)
        open_lines = conn.execute(
            "SELECT line_no, sku, quantity FROM order_line "
            "WHERE order_id = %s AND status <> 'removed' ORDER BY line_no",
            (order["order_id"],),
        ).fetchall()
    try:
        command = operator_commands.refund(
            order["order_id"],
            reason,
            lines=parse_lines(specs, open_lines),
            shipping=shipping,
            refund_id=refund_id,
        )
    except operator_commands.ActionRefused as error:
        raise typer.BadParameter(f"--{error}") from None
    writer = CommandWriter(settings, codec_from_settings(settings))
    record = writer.record(command)
    p = producer(settings)
    try:
        p.send(record.topic, record.value, key=record.key, headers=record.headers).get(30)
    finally:
        p.close()
    out.print(f"RefundOrder {order_no} refund {command.refund_id} -> {record.topic}")


@app.command()
@one_line_errors
def show(
    order_no: Annotated[str, typer.Argument(help="Order number.")],
    schema: str | None = SCHEMA,
) -> None:
    """Print an order's money: its tenders (requested, captured, voided), every movement
    of its ledger, its refunds (requested, succeeded, failed), the balance.

    Example: oms payment show SO-1001
    """
    settings = get_settings()
    name = schema_or_setting(schema)
    with connect(settings.postgres.dsn, name, "oms-payment-show", create=False) as conn:
        order = _order(conn, order_no)
        with conn.cursor(row_factory=dict_row) as cur:
            ledger = cur.execute(
                "SELECT occurred_at, tender, method, kind, amount, provider_reference, refund_id "
                "FROM payment_ledger WHERE order_id = %s ORDER BY occurred_at, version, tender",
                (order["order_id"],),
            ).fetchall()
            refunds = cur.execute(
                "SELECT refund_id, amount, status, reason, failure, requested_at FROM refund "
                "WHERE order_id = %s ORDER BY requested_at",
                (order["order_id"],),
            ).fetchall()
            books = cur.execute(
                "SELECT tenders FROM payment WHERE order_id = %s", (order["order_id"],)
            ).fetchall()
    currency = order["currency"]
    tenders = {ref: t for book in books for ref, t in book["tenders"].items()}
    if tenders:
        tt = Table("Tender", "Method", "Status", "Provider ref", title="Tenders")
        for ref, t in sorted(tenders.items()):
            status = t.get("status", "")
            if t.get("reason"):
                status += f" ({t['reason']})"
            if t.get("trade_closed"):
                status += ", trade closed"
            tt.add_row(
                ref, t.get("method") or "-", status or "-", t.get("provider_reference") or "-"
            )
        out.print(tt)
    table = Table("Time", "Tender", "Method", "Kind", "Amount", "Provider ref", title="Ledger")
    for r in ledger:
        table.add_row(
            r["occurred_at"].strftime("%Y-%m-%d %H:%M:%S"),
            r["tender"],
            r["method"],
            r["kind"],
            _money(r["amount"], currency),
            r["provider_reference"] or "-",
        )
    out.print(table)
    if refunds:
        rt = Table("Refund", "Amount", "Status", "Reason", title="Refunds")
        for r in refunds:
            status = r["status"] + (f" ({r['failure']})" if r["failure"] else "")
            rt.add_row(r["refund_id"], _money(r["amount"], currency), status, r["reason"])
        out.print(rt)
    held = sum(r["amount"] for r in ledger)
    out.print(
        f"Held {_money(held, currency)}  "
        f"(order: paid {_money(order['amount_paid'], currency)}, "
        f"refunded {_money(order['amount_refunded'], currency)})"
    )
