"""``oms stock``: stock at locations, administered by operators.

Receive, adjust, count, transfer and set thresholds: each sends one command to the
inventory processor, names who did it (``--by``, default the OS user) and waits for
the engine's answer (its events, or the rule that refused it: see ``answers``).
``show`` and ``suggest`` read the inventory projection. Labels follow the locale
(LANG or LC_ALL starting with ``zh`` prints Chinese).

Numbers are read here rather than by Typer, so a bad one is refused in one line that
names the option and the fix (exit 2), before anything is sent.
"""

from __future__ import annotations

import csv
import getpass
import sys
import uuid
from collections.abc import Callable
from typing import Annotated, Any, NoReturn
from uuid import UUID

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from oms_events.analytics.forecast import MIN_SEASONAL_DAYS, suggestions
from oms_events.answers import Answer, send_and_wait
from oms_events.avro.registry import codec_from_settings
from oms_events.cli.errors import one_line_errors
from oms_events.cli.order import language
from oms_events.cli.project import SCHEMA, schema_or_setting
from oms_events.domain.inventory import AdjustmentReason
from oms_events.engine.commands import (
    AdjustStock,
    CountStock,
    ReceiveStock,
    ReceiveTransfer,
    SetThreshold,
    StockCommand,
    TransferStock,
)
from oms_events.projection.runner import connect
from oms_events.projection.stock import stock_levels, transfer_destination
from oms_events.settings import get_settings

app = typer.Typer(
    help="Stock at locations: receive, adjust, count, transfer, thresholds, and what to "
    "reorder.\n\nExample: oms stock adjust SKU-TEA-001 WH-00 --delta -2 --reason damage",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "location": "Location",
        "on_hand": "On hand",
        "reserved": "Reserved",
        "available": "Available to promise",
        "in_transit": "In transit",
        "threshold": "Low below",
        "low_since": "Low since",
        "total": "Total",
        "stock_of": "Stock of {sku}",
        "none": "No stock of {sku} in the projection.",
        "sku": "SKU",
        "daily": "Forecast / day",
        "method": "Method",
        "lead_demand": "Lead-time demand",
        "safety": "Safety stock",
        "suggested": "Suggested order",
        "suggest_title": "Replenishment: forecast of {days} days of shipments, lead {lead} d",
        "nothing": "Nothing to reorder.",
        "refused": "refused",
        "no_answer": "sent {command} {command_id}; no answer within {wait:g} s: is the engine "
        "running (oms run)?",
        "transfer": "transfer id {transfer_id}: receive it with "
        "oms stock transfer-receive {transfer_id}",
    },
    "zh": {
        "location": "仓库",
        "on_hand": "在库",
        "reserved": "已预留",
        "available": "可承诺",
        "in_transit": "在途",
        "threshold": "低库存阈值",
        "low_since": "低库存起始",
        "total": "合计",
        "stock_of": "{sku} 库存",
        "none": "投影中没有 {sku} 的库存。",
        "sku": "商品编码",
        "daily": "预测日销",
        "method": "方法",
        "lead_demand": "采购周期需求",
        "safety": "安全库存",
        "suggested": "建议补货",
        "suggest_title": "补货建议：基于近 {days} 天发货的预测，采购周期 {lead} 天",
        "nothing": "无需补货。",
        "refused": "被拒绝",
        "no_answer": "已发送 {command} {command_id}；{wait:g} 秒内未收到答复：引擎是否在运行"
        "（oms run）？",
        "transfer": "调拨单号 {transfer_id}：到货后执行 oms stock transfer-receive {transfer_id}",
    },
}


class StockArgumentError(ValueError):
    """An argument the CLI refuses before sending anything: names the option and the fix."""

    def __init__(self, option: str, problem: str, fix: str) -> None:
        super().__init__(f"{option}: {problem}; {fix}")
        self.option = option


def whole(option: str, text: str, minimum: int | None = None, example: str = "5") -> int:
    """``text`` as a whole number of at least ``minimum``, or StockArgumentError."""
    try:
        value = int(text.strip())
    except ValueError:
        raise StockArgumentError(
            option, f"{text!r} is not a whole number", f"e.g. {option} {example}"
        ) from None
    if minimum is not None and value < minimum:
        raise StockArgumentError(option, f"{value} is below {minimum}", f"e.g. {option} {example}")
    return value


def delta_of(text: str) -> int:
    """The ``--delta`` of an adjustment: a signed whole number, never 0."""
    delta = whole("--delta", text, example="-2")
    if delta == 0:
        raise StockArgumentError("--delta", "0 changes nothing", "e.g. --delta -2 or --delta 3")
    return delta


def reason_of(text: str) -> AdjustmentReason:
    """The ``--reason`` of an adjustment, one of AdjustmentReason."""
    try:
        return AdjustmentReason(text.strip().lower())
    except ValueError:
        choices = " | ".join(AdjustmentReason)
        raise StockArgumentError("--reason", f"{text!r} is unknown", f"use {choices}") from None


def transfer_id_of(text: str, option: str = "TRANSFER_ID") -> UUID:
    """A transfer id as ``oms stock transfer`` printed it."""
    try:
        return UUID(text.strip())
    except ValueError:
        raise StockArgumentError(
            option, f"{text!r} is not a transfer id", "copy the id oms stock transfer printed"
        ) from None


def places(source: str, destination: str) -> tuple[str, str]:
    """The two ends of a transfer: both given, and different."""
    if not source.strip():
        raise StockArgumentError("--from", "is empty", "e.g. --from WH-00")
    if not destination.strip():
        raise StockArgumentError("--to", "is empty", "e.g. --to WH-01")
    if source == destination:
        raise StockArgumentError("--to", f"is --from ({source})", "name another location")
    return source, destination


def _refuse(error: StockArgumentError) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _parsed(parse: Callable[[], Any]) -> Any:
    try:
        return parse()
    except StockArgumentError as error:
        _refuse(error)


# --- the options every command shares ------------------------------------------------

SKU = Annotated[str, typer.Argument(help="Our sku, e.g. SKU-TEA-001.")]
LOCATION = Annotated[str, typer.Argument(help="Warehouse or store id, e.g. WH-00.")]
BY = Annotated[
    str | None, typer.Option("--by", help="Who does it (recorded on the event); default: OS user.")
]
NOTE = Annotated[str, typer.Option("--note", help="Free text kept with the event.")]
WAIT = Annotated[
    float | None,
    typer.Option(
        "--wait",
        help="Seconds to wait for the engine's answer; 0: send only "
        "[default: OMS_STOCK_ANSWER_WAIT_S].",
        show_default=False,
    ),
]


def _actor(by: str | None) -> str:
    if by is not None and by.strip():
        return by.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name (a container without one)
        return "unknown"


def _send(command: StockCommand, wait: float | None) -> Answer | None:
    """Send, wait, print the answer; exit 1 on a refusal, 3 when none came."""
    settings = get_settings()
    t = LABELS[language()]
    wait_s = settings.stock.answer_wait_s if wait is None else wait
    codec = codec_from_settings(settings)
    answer = send_and_wait(settings, codec, command, wait_s) if wait_s > 0 else None
    if wait_s <= 0:
        out.print(f"{command.name} {command.sku} @ {command.location} sent ({command.command_id})")
        return None
    if answer is None:
        err.print(
            t["no_answer"].format(command=command.name, command_id=command.command_id, wait=wait_s),
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(3)
    if answer.refusal is not None:
        r = answer.refusal
        message = r["message_zh"] if language() == "zh" else r["message_en"]
        err.print(
            f"[bold red]{t['refused']}:[/] {escape(message)} ({r['code']})",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    for e in answer.events:
        detail = ", ".join(f"{k}={v}" for k, v in e.payload.items() if v not in ("", None))
        out.print(f"{e.name}: {detail}", highlight=False, soft_wrap=True)
    return answer


# --- commands ------------------------------------------------------------------------


@app.command()
@one_line_errors
def receive(
    sku: SKU,
    location: LOCATION,
    quantity: Annotated[str, typer.Argument(help="Units received (> 0).", metavar="QUANTITY")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why stock moves, e.g. a purchase order number.")
    ] = "receipt",
    by: BY = None,
    wait: WAIT = None,
) -> None:
    """Units arrived at LOCATION (ReceiveStock -> StockReceived).

    Example: oms stock receive SKU-TEA-001 WH-00 50 --reason PO-2026-001
    """
    units = _parsed(lambda: whole("QUANTITY", quantity, 1, "50"))
    command = ReceiveStock(
        command_id=str(uuid.uuid4()),
        sku=sku,
        location=location,
        quantity=units,
        reason=reason,
        actor=_actor(by),
    )
    _send(command, wait)


@app.command()
@one_line_errors
def adjust(
    sku: SKU,
    location: LOCATION,
    delta: Annotated[
        str, typer.Option("--delta", help="Units to add (3) or remove (-2).", metavar="N")
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="damage | loss | found | count_correction.")
    ],
    note: NOTE = "",
    by: BY = None,
    wait: WAIT = None,
) -> None:
    """Correct on hand (AdjustStock -> StockAdjusted); refused below what is reserved.

    Example: oms stock adjust SKU-TEA-001 WH-00 --delta -2 --reason damage --note "crushed box"
    """
    units = _parsed(lambda: delta_of(delta))
    why = _parsed(lambda: reason_of(reason))
    command = AdjustStock(
        command_id=str(uuid.uuid4()),
        sku=sku,
        location=location,
        delta=units,
        reason=why.value,
        actor=_actor(by),
        note=note,
    )
    _send(command, wait)


@app.command()
@one_line_errors
def count(
    sku: SKU,
    location: LOCATION,
    counted: Annotated[
        str, typer.Option("--counted", help="Units counted on the shelf (>= 0).", metavar="N")
    ],
    note: NOTE = "",
    by: BY = None,
    wait: WAIT = None,
) -> None:
    """Record a cycle count: on hand becomes N (CountStock -> StockCounted).

    A count below what is reserved is refused: release or move those reservations first.

    Example: oms stock count SKU-TEA-001 WH-00 --counted 47
    """
    units = _parsed(lambda: whole("--counted", counted, 0, "47"))
    command = CountStock(
        command_id=str(uuid.uuid4()),
        sku=sku,
        location=location,
        counted=units,
        actor=_actor(by),
        note=note,
    )
    _send(command, wait)


@app.command()
@one_line_errors
def threshold(
    sku: SKU,
    location: LOCATION,
    minimum: Annotated[
        str,
        typer.Option(
            "--min", help="LowStock when available drops below this (0: never).", metavar="N"
        ),
    ],
    by: BY = None,
    wait: WAIT = None,
) -> None:
    """Set the low-stock threshold (SetThreshold -> ThresholdSet, LowStock when below).

    Example: oms stock threshold SKU-TEA-001 WH-00 --min 10
    """
    units = _parsed(lambda: whole("--min", minimum, 0, "10"))
    command = SetThreshold(
        command_id=str(uuid.uuid4()),
        sku=sku,
        location=location,
        threshold=units,
        actor=_actor(by),
    )
    _send(command, wait)


@app.command()
@one_line_errors
def transfer(
    sku: SKU,
    source: Annotated[str, typer.Option("--from", help="Location the units leave.")],
    destination: Annotated[str, typer.Option("--to", help="Location they go to.")],
    qty: Annotated[str, typer.Option("--qty", help="Units (> 0).", metavar="N")],
    transfer_id: Annotated[
        str | None,
        typer.Option("--transfer-id", help="Reuse an id to retry safely; default: a new one."),
    ] = None,
    note: NOTE = "",
    by: BY = None,
    wait: WAIT = None,
) -> None:
    """Dispatch units to another location (TransferStock -> TransferDispatched).

    They leave --from's on hand now and are in transit to --to until received with
    ``oms stock transfer-receive TRANSFER_ID``.

    Example: oms stock transfer SKU-TEA-001 --from WH-00 --to WH-01 --qty 20
    """
    units = _parsed(lambda: whole("--qty", qty, 1, "20"))
    ends = _parsed(lambda: places(source, destination))
    tid = _parsed(lambda: transfer_id_of(transfer_id, "--transfer-id")) if transfer_id else None
    command = TransferStock(
        command_id=str(uuid.uuid4()),
        sku=sku,
        location=ends[0],
        to_location=ends[1],
        transfer_id=tid or uuid.uuid4(),
        quantity=units,
        actor=_actor(by),
        note=note,
    )
    _send(command, wait)
    out.print(LABELS[language()]["transfer"].format(transfer_id=command.transfer_id))


@app.command("transfer-receive")
@one_line_errors
def transfer_receive(
    transfer_id: Annotated[str, typer.Argument(help="The id oms stock transfer printed.")],
    by: BY = None,
    wait: WAIT = None,
    schema: str | None = SCHEMA,
) -> None:
    """A transfer arrived: its units leave in transit and join on hand at the destination.

    The destination is looked up in the stock ledger (the inventory projection).

    Example: oms stock transfer-receive 6f1c2b9e-0d4a-4c3e-9a57-2b8e1f0c7d11
    """
    tid = _parsed(lambda: transfer_id_of(transfer_id))
    settings = get_settings()
    schema = schema_or_setting(schema)
    with connect(settings.postgres.dsn, schema, "oms-stock", create=False) as conn:
        row = transfer_destination(conn, tid)
    if row is None:
        _refuse(
            StockArgumentError(
                "TRANSFER_ID",
                f"transfer {tid} is not in transit in the stock ledger",
                "check the id, or run the projections (oms project) and retry",
            )
        )
    command = ReceiveTransfer(
        command_id=str(uuid.uuid4()),
        sku=row[0],
        location=row[1],
        transfer_id=tid,
        actor=_actor(by),
    )
    _send(command, wait)


# --- reading the projection ------------------------------------------------------------


@app.command()
@one_line_errors
def show(sku: SKU, schema: str | None = SCHEMA) -> None:
    """Stock of SKU per location and in total, with available to promise and in transit.

    Example: oms stock show SKU-TEA-001
    """
    settings = get_settings()
    t = LABELS[language()]
    with connect(settings.postgres.dsn, schema_or_setting(schema), "oms-stock", create=False) as c:
        levels = stock_levels(c, sku)
    if not levels:
        out.print(t["none"].format(sku=sku))
        raise typer.Exit(4)
    numbers = ("on_hand", "reserved", "available", "in_transit")
    table = Table(title=t["stock_of"].format(sku=sku))
    table.add_column(t["location"])
    for n in (*numbers, "threshold"):
        table.add_column(t[n], justify="right")
    table.add_column(t["low_since"])
    for r in levels:
        low = r["low_since"].strftime("%Y-%m-%d %H:%M") if r["low_since"] else "-"
        style = "red" if r["low_since"] else None
        table.add_row(
            r["location"],
            *(str(r[n]) for n in numbers),
            str(r["low_stock_threshold"]),
            low,
            style=style,
        )
    table.add_section()
    table.add_row(
        f"[bold]{t['total']}[/]",
        *(f"[bold]{sum(r[n] for r in levels)}[/]" for n in numbers),
        "",
        "",
    )
    out.print(table)


@app.command()
@one_line_errors
def suggest(
    days: Annotated[
        str | None,
        typer.Option(
            "--days",
            help="Days of shipments the forecast learns from "
            "(default: OMS_ANALYTICS_FORECAST_HISTORY_DAYS).",
            metavar="N",
            show_default=False,
        ),
    ] = None,
    lead_time: Annotated[
        float | None,
        typer.Option(
            "--lead-time",
            help="Days to replenish (default: OMS_STOCK_LEAD_TIME_DAYS).",
            show_default=False,
        ),
    ] = None,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="CSV on stdout instead of a table.")
    ] = False,
    show_all: Annotated[bool, typer.Option("--all", help="Also items needing nothing.")] = False,
    schema: str | None = SCHEMA,
) -> None:
    """What to reorder per sku and location, from the demand forecast.

    Forecast units over the lead time + safety stock - (available + in transit). The
    forecast is Holt-Winters with a weekly season on units shipped per business day
    (OMS_ANALYTICS_TIMEZONE); items with under 4 weeks of history use their 28-day
    average (column method). Safety stock: OMS_STOCK_SAFETY_DAYS of forecast demand,
    at least the item's low-stock threshold.

    Example: oms stock suggest --lead-time 10 --csv > reorder.csv
    """
    settings = get_settings()
    history = (
        settings.analytics.forecast_history_days
        if days is None
        else _parsed(lambda: whole("--days", days, MIN_SEASONAL_DAYS, "112"))
    )
    lead = settings.stock.lead_time_days if lead_time is None else lead_time
    with connect(
        settings.postgres.dsn, schema_or_setting(schema), "oms-stock", create=False
    ) as conn:
        rows = suggestions(
            conn, lead, settings.stock.safety_days, settings.analytics.timezone, history
        )
    if not show_all:
        rows = [r for r in rows if r["suggested"] > 0]
    columns = (
        "sku", "location", "method", "daily_sales", "lead_time_demand", "on_hand", "reserved",
        "available", "in_transit", "safety_stock", "suggested",
    )  # fmt: skip
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows([r[c] for c in columns] for r in rows)
        return
    t = LABELS[language()]
    if not rows:
        out.print(t["nothing"])
        return
    names = {"daily_sales": "daily", "safety_stock": "safety", "lead_time_demand": "lead_demand"}
    table = Table(title=t["suggest_title"].format(days=history, lead=f"{lead:g}"))
    for column in columns:
        text = column in ("sku", "location", "method")
        table.add_column(t[names.get(column, column)], justify="left" if text else "right")
    for r in rows:
        table.add_row(*(str(r[c]) for c in columns))
    out.print(table)
