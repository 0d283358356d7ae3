"""``oms cod reconcile``: a courier's cash-on-delivery remittance file against the cash
we recorded as collected.

Reconciliation results are events on the payment's log, not rows written here: each
waybill of the file becomes a RecordCodRemittance command to its order's payment, which
records ``CodRemitted`` (matched, short_paid or over_paid against the cash collected)
or, for a waybill we collected that the file should list and does not,
``CodRemittanceMissing``. The log stays the system of record: the ``cod_outstanding``
and ``exception`` projections are rebuilt from it by replay, and the payment decides
once per waybill, so the same file again has no second effect (its command ids and
batch are derived from the file's bytes). A waybill of the file that is not ours has
no payment to tell: it is dead-lettered (code ``cod.unknown_waybill``) and so becomes
an exception row, once per file and waybill.

This command reads ``cod_outstanding`` to know which order each waybill belongs to and
to print what it expects the engine to record.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer
from psycopg.rows import dict_row
from rich.console import Console
from rich.table import Column, Table

from oms_events import topics
from oms_events.avro.registry import codec_from_settings
from oms_events.cli.errors import one_line_errors
from oms_events.cli.project import SCHEMA, schema_or_setting
from oms_events.deadletter import DeadLetter, Reason, Source
from oms_events.domain.money import Money
from oms_events.domain.payment import cod_outcome
from oms_events.engine.commands import RecordCodRemittance
from oms_events.engine.records import CommandWriter
from oms_events.kafka.connection import producer
from oms_events.projection.runner import connect
from oms_events.settings import get_settings

app = typer.Typer(help="Cash on delivery: couriers' remittances.", no_args_is_help=True)
out = Console()
PROCESSOR = "cli.cod"

# Column names couriers use (SF, YTO, ZTO, JD export their own), then ours in English.
COLUMNS: dict[str, tuple[str, ...]] = {
    "waybill": ("运单号", "运单编号", "快递单号", "waybill", "waybill_no", "tracking_no"),
    "amount": ("代收货款", "代收金额", "代收款", "cod_amount", "collected", "amount"),
    "fee": ("手续费", "代收手续费", "服务费", "fee"),
    "remitted_on": ("回款日期", "回款时间", "结算日期", "remitted_on", "remitted_date", "date"),
    "carrier": ("快递公司", "承运商", "carrier"),
}


# Couriers' names as their exports write them -> the carrier codes our waybills carry.
CARRIER_NAMES = {
    "顺丰": "SF",
    "顺丰速运": "SF",
    "圆通": "YTO",
    "圆通速递": "YTO",
    "中通": "ZTO",
    "中通快递": "ZTO",
    "申通": "STO",
    "申通快递": "STO",
    "韵达": "YUNDA",
    "韵达快递": "YUNDA",
    "京东": "JD",
    "京东物流": "JD",
    "邮政": "EMS",
    "中国邮政": "EMS",
}


def carrier_code(name: str) -> str:
    """Our code of a courier named in a file (顺丰 -> SF); a code stays as it is."""
    name = name.strip()
    return CARRIER_NAMES.get(name, name.upper())


class RemittanceFileError(ValueError):
    """A remittance file that cannot be read: encoding, columns or a value (printed as
    one line naming file, line and column)."""


@dataclass(frozen=True)
class RemittanceRow:
    """One waybill of a courier's remittance file; amounts in minor units (fen)."""

    line: int  # in the file, from 1 (the header)
    waybill: str
    amount: int
    fee: int
    remitted_on: date
    carrier: str


def decode(data: bytes, name: str) -> str:
    """The file's text: UTF-8 (with or without BOM) or GBK, as couriers' exports come;
    anything else raises RemittanceFileError."""
    for encoding in ("utf-8-sig", "gbk"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RemittanceFileError(f"{name}: neither UTF-8 nor GBK; save it as UTF-8 CSV and retry")


def _minor(text: str, what: str, where: str) -> int:
    cleaned = text.strip().replace(",", "").replace("¥", "").replace("￥", "").replace("元", "")
    try:
        value = Decimal(cleaned or "0")
    except InvalidOperation:
        raise RemittanceFileError(f"{where}: {what} {text!r} is not an amount in yuan") from None
    scaled = value.scaleb(2)
    if value < 0 or scaled != scaled.to_integral_value():
        raise RemittanceFileError(f"{where}: {what} {text!r} is not an amount in yuan")
    return int(scaled)


def _date(text: str, where: str) -> date:
    value = text.strip().split(" ")[0].split("T")[0].replace("/", "-").replace(".", "-")
    for form in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(value, form).date()
        except ValueError:
            continue
    raise RemittanceFileError(f"{where}: 回款日期/remitted_on {text!r} is not a date (YYYY-MM-DD)")


def parse(data: bytes, name: str, carrier: str | None) -> list[RemittanceRow]:
    """The waybills of a remittance file (CSV, header row first); raises
    RemittanceFileError naming the file, line and column of the first bad value."""
    text = decode(data, name)
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    where: dict[str, int] = {}
    for column, aliases in COLUMNS.items():
        found = [i for i, h in enumerate(header) if h.lower() in aliases]
        if found:
            where[column] = found[0]
    for needed in ("waybill", "amount", "remitted_on"):
        if needed not in where:
            names = "/".join(COLUMNS[needed][:2] + COLUMNS[needed][3:4])
            raise RemittanceFileError(f"{name}: no {names} column in the header {header}")
    rows: list[RemittanceRow] = []
    for n, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        at = f"{name} line {n}"

        def cell(column: str, cells: Sequence[str] = cells) -> str:
            i = where.get(column)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        waybill = cell("waybill")
        if not waybill:
            raise RemittanceFileError(f"{at}: 运单号/waybill is empty")
        rows.append(
            RemittanceRow(
                line=n,
                waybill=waybill,
                amount=_minor(cell("amount"), "代收货款/cod_amount", at),
                fee=_minor(cell("fee"), "手续费/fee", at),
                remitted_on=_date(cell("remitted_on"), at),
                carrier=carrier_code(carrier or cell("carrier")),
            )
        )
    return rows


def batch_of(data: bytes, carrier: str | None) -> str:
    """The file's name on the log: its carrier and the start of its SHA-256, so the same
    bytes again are the same batch."""
    return f"{carrier or 'ANY'}-{hashlib.sha256(data).hexdigest()[:16]}"


@dataclass(frozen=True)
class Finding:
    """One waybill's result: what the command will record, or why nothing is sent."""

    waybill: str
    order_no: str
    collected: int | None
    listed: int | None
    fee: int | None
    remitted_on: date | None
    result: str  # matched, short_paid, over_paid, missing, unknown, remitted_before


def reconcile(
    rows: Sequence[RemittanceRow],
    known: Iterable[dict[str, Any]],
    carrier: str | None,
    batch: str = "",
) -> list[Finding]:
    """Match the file against what was collected (``cod_outstanding`` rows): each file
    row is matched, short_paid, over_paid, unknown (not ours) or remitted_before; each
    waybill collected by the carrier before the file's last remittance date and not in
    the file is missing (unless this very file ``batch`` was found lacking it before)."""
    by_waybill = {r["tracking_no"]: r for r in known if r["tracking_no"]}
    findings: list[Finding] = []
    for row in rows:
        ours = by_waybill.get(row.waybill)
        if ours is None:
            findings.append(
                Finding(row.waybill, "", None, row.amount, row.fee, row.remitted_on, "unknown")
            )
            continue
        result = (
            "remitted_before"
            if ours["remitted_amount"] is not None
            else cod_outcome(
                Money(ours["collected_amount"], ours["currency"]),
                Money(row.amount, ours["currency"]),
            ).value
        )
        findings.append(
            Finding(
                row.waybill,
                ours["order_no"],
                ours["collected_amount"],
                row.amount,
                row.fee,
                row.remitted_on,
                result,
            )
        )
    if rows:
        listed = {r.waybill for r in rows}
        last = max(r.remitted_on for r in rows)
        carriers = {carrier.upper()} if carrier else {r.carrier for r in rows if r.carrier}
        for r in by_waybill.values():
            if (
                r["tracking_no"] not in listed
                and r["remitted_amount"] is None
                and r["carrier"] in carriers
                and r["collected_at"] is not None
                and r["collected_at"].date() < last
                and (not batch or r.get("missing_in") != batch)
            ):
                findings.append(
                    Finding(
                        r["tracking_no"],
                        r["order_no"],
                        r["collected_amount"],
                        None,
                        None,
                        None,
                        "missing",
                    )
                )
    return findings


def commands(
    findings: Sequence[Finding], known: Iterable[dict[str, Any]], batch: str
) -> list[RecordCodRemittance]:
    """The RecordCodRemittance of each finding about a waybill of ours."""
    by_waybill = {r["tracking_no"]: r for r in known if r["tracking_no"]}
    found = []
    for f in findings:
        if f.result in ("unknown", "remitted_before"):
            continue
        r = by_waybill[f.waybill]
        found.append(
            RecordCodRemittance(
                command_id=f"cod-remit/{batch}/{f.waybill}",
                order_id=r["order_id"],
                order_no=r["order_no"],
                channel=r["channel"],
                currency=r["currency"],
                carrier=r["carrier"] or "",
                tracking_no=f.waybill,
                batch=batch,
                remitted=f.listed,
                fee=f.fee or 0,
                remitted_on=f.remitted_on.isoformat() if f.remitted_on else "",
            )
        )
    return found


def unknown_letter(f: Finding, batch: str, name: str, line: int) -> DeadLetter:
    """The dead letter of a file's waybill that is not ours: one exception row per file
    and waybill (its source names the batch and the line)."""
    amount = f"{(f.listed or 0) / 100:.2f}"
    return DeadLetter(
        Reason(
            "cod.unknown_waybill",
            "运单号",
            f"waybill {f.waybill} ({amount} yuan) in remittance file {name} is no COD "
            "order we collected",
            f"回款文件 {name} 中的运单 {f.waybill}（{amount} 元）不是我们的货到付款订单",
            "RemittanceRow",
        ),
        Source(f"cod-remittance:{batch}", 0, line),
        PROCESSOR,
        {"position": f.waybill, "batch": batch},
    )


def _yuan(minor: int | None) -> str:
    return "-" if minor is None else f"{minor / 100:,.2f}"


@app.command("reconcile")
@one_line_errors
def reconcile_file(
    file: Annotated[Path, typer.Argument(help="The courier's remittance file (CSV).")],
    carrier: Annotated[
        str | None,
        typer.Option(
            "--carrier",
            help="Courier of the file (SF, YTO...): waybills it collected and the file "
            "lacks are reported missing [default: the file's 快递公司/carrier column].",
        ),
    ] = None,
    schema: str | None = SCHEMA,
) -> None:
    """Reconcile a courier's COD remittance file (代收货款回款明细) with the cash we
    recorded as collected, and record the result on each order's payment.

    The file is CSV with a header row, in UTF-8, UTF-8 with BOM or GBK. Columns, by
    the courier's Chinese header or ours in English (other columns are ignored):

    \b
      运单号 / 运单编号 / 快递单号      waybill_no   (required)
      代收货款 / 代收金额 / 代收款      cod_amount   (required, yuan: 129.00)
      手续费 / 代收手续费 / 服务费      fee          (yuan, default 0)
      回款日期 / 回款时间 / 结算日期    remitted_on  (required, 2026-12-03)
      快递公司 / 承运商                carrier      (when --carrier is not given)

    Each waybill is matched (the file states what we collected), short_paid or
    over_paid; a waybill the courier collected before the file's last 回款日期 and
    not in the file is missing; one that is not ours is unknown. Short, over, missing
    and unknown become exception rows (oms.exception). Running the same file again
    records nothing more.

    \b
    Example:
      oms cod reconcile SF-回款-20261203.csv --carrier SF
    """
    settings = get_settings()
    name = schema_or_setting(schema)
    data = file.read_bytes()
    try:
        rows = parse(data, file.name, carrier)
    except RemittanceFileError as error:
        Console(stderr=True).print(f"error: {error}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    batch = batch_of(data, carrier)
    waybills = [r.waybill for r in rows]
    with connect(settings.postgres.dsn, name, "oms-cod-reconcile", create=False) as conn:
        known = _outstanding(conn, waybills, carrier, rows)
        findings = reconcile(rows, known, carrier, batch)
        unknown = [f for f in findings if f.result == "unknown"]
        lines = {r.waybill: r.line for r in rows}
        letters = [unknown_letter(f, batch, file.name, lines[f.waybill]) for f in unknown]
        letters = _not_recorded(conn, letters)
    sent = commands(findings, known, batch)
    _send(settings, sent, letters)
    _print(findings, file.name, batch, len(sent))


def _outstanding(
    conn: psycopg.Connection[Any],
    waybills: Sequence[str],
    carrier: str | None,
    rows: Sequence[RemittanceRow],
) -> list[dict[str, Any]]:
    # The file's waybills, and everything the file's couriers collected and did not
    # remit yet (candidates for missing).
    carriers = [carrier.upper()] if carrier else sorted({r.carrier for r in rows if r.carrier})
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT order_id, order_no, channel, currency, carrier, tracking_no, "
            "collected_amount, collected_at, remitted_amount, missing_in FROM cod_outstanding "
            "WHERE tracking_no = ANY(%s) "
            "OR (carrier = ANY(%s) AND status IN ('collected', 'missing'))",
            (list(waybills), carriers),
        ).fetchall()


def _not_recorded(conn: psycopg.Connection[Any], letters: list[DeadLetter]) -> list[DeadLetter]:
    # The exceptions projection already holds these (the same file ran before): skip.
    ids = {
        f"dead_letter:{PROCESSOR}:{d.source.topic}:{d.source.partition}:{d.source.offset}:"
        f"{d.context['position']}": d
        for d in letters
    }
    try:
        seen = {
            r[0]
            for r in conn.execute(
                "SELECT exception_id FROM exception WHERE exception_id = ANY(%s)", (list(ids),)
            )
        }
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        seen = set()
    return [d for i, d in ids.items() if i not in seen]


def _send(
    settings: Any, sent: Sequence[RecordCodRemittance], letters: Sequence[DeadLetter]
) -> None:
    writer = CommandWriter(settings, codec_from_settings(settings))
    p = producer(settings)
    try:
        futures = []
        for command in sent:
            record = writer.record(command)
            futures.append(
                p.send(record.topic, record.value, key=record.key, headers=record.headers)
            )
        dlq = topics.name(settings, topics.DEADLETTER)
        for letter in letters:
            futures.append(p.send(dlq, b"", key=None, headers=letter.headers()))
        for future in futures:
            future.get(30)
    finally:
        p.close()


RESULT_ZH = {
    "matched": "相符",
    "short_paid": "少付",
    "over_paid": "多付",
    "missing": "缺失",
    "unknown": "非本方运单",
    "remitted_before": "已对账",
}


def _print(findings: Sequence[Finding], name: str, batch: str, sent: int) -> None:
    table = Table(
        "Waybill 运单号",
        "Order",
        Column("Collected 代收", justify="right"),
        Column("File 回款文件", justify="right"),
        Column("Fee 手续费", justify="right"),
        "Remitted 回款日期",
        "Result 结果",
        title=f"{name} ({batch})",
    )
    for f in findings:
        table.add_row(
            f.waybill,
            f.order_no or "-",
            _yuan(f.collected),
            _yuan(f.listed),
            _yuan(f.fee),
            f.remitted_on.isoformat() if f.remitted_on else "-",
            f"{f.result} {RESULT_ZH[f.result]}",
        )
    out.print(table)
    counts = {k: sum(1 for f in findings if f.result == k) for k in RESULT_ZH}
    out.print(
        "  ".join(f"{k} {v}" for k, v in counts.items()) + f"  -> {sent} remittance command(s) sent"
    )
