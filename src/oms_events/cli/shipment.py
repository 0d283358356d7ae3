"""``oms shipment show`` and ``oms shipment silent``: parcels and their carrier scans,
from the tracking projection.

Labels follow the locale: LANG (or LC_ALL) starting with ``zh`` prints Chinese.
"""

from __future__ import annotations

from typing import Any

import psycopg
import typer
from psycopg import sql
from psycopg.rows import dict_row
from rich.console import Console
from rich.table import Table

from oms_events.cli.errors import one_line_errors
from oms_events.cli.order import language
from oms_events.cli.project import SCHEMA, schema_or_setting
from oms_events.projection.runner import connect
from oms_events.settings import get_settings

app = typer.Typer(
    help="Look parcels up in the tracking projection: status, ETA, every carrier scan.",
    no_args_is_help=True,
)
out = Console()

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "order": "Order",
        "shipment": "Shipment",
        "location": "Warehouse",
        "status": "Status",
        "carrier": "Carrier",
        "tracking_no": "Tracking no.",
        "shipped": "Shipped",
        "last_scan": "Last scan",
        "eta": "ETA",
        "delivered": "Delivered",
        "signer": "Signed by",
        "failures": "Failed attempts",
        "scans": "Scans",
        "at": "Time",
        "where": "Where",
        "detail": "Detail",
        "silent_for": "Silent for",
        "none": "No shipment found for {key}.",
        "quiet": "No parcel has been silent for {hours:g} hours.",
    },
    "zh": {
        "order": "订单",
        "shipment": "包裹",
        "location": "仓库",
        "status": "状态",
        "carrier": "承运商",
        "tracking_no": "运单号",
        "shipped": "发货时间",
        "last_scan": "最新扫描",
        "eta": "预计送达",
        "delivered": "签收时间",
        "signer": "签收人",
        "failures": "派送失败次数",
        "scans": "物流轨迹",
        "at": "时间",
        "where": "地点",
        "detail": "说明",
        "silent_for": "无更新时长",
        "none": "未找到 {key} 的包裹。",
        "quiet": "没有超过 {hours:g} 小时无更新的包裹。",
    },
}
# Statuses as operators read them.
STATUS: dict[str, dict[str, str]] = {
    "en": {},
    "zh": {
        "created": "已创建",
        "picked": "已拣货",
        "packed": "已打包",
        "shipped": "已发货",
        "in_transit": "运输中",
        "out_for_delivery": "派送中",
        "delivered": "已签收",
        "delivery_failed": "派送失败",
        "returned": "已退回",
        "returned_to_sender": "退回",
        "cancelled": "已取消",
    },
}


def _at(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z") if value else "-"


def find_shipments(conn: psycopg.Connection[Any], schema: str, key: str) -> list[dict[str, Any]]:
    """Shipments of an order number, or the shipment of a tracking number, each with
    its order number and its scans (oldest first)."""
    s = sql.Identifier(schema)
    with conn.cursor(row_factory=dict_row) as cur:
        found = cur.execute(
            sql.SQL(
                "SELECT s.*, o.order_no FROM {s}.shipment_tracking s "
                "LEFT JOIN {s}.order_tracking o ON o.order_id = s.order_id "
                "WHERE s.tracking_no = %(k)s OR o.order_no = %(k)s ORDER BY s.created_at"
            ).format(s=s),
            {"k": key},
        ).fetchall()
        for shipment in found:
            shipment["scans"] = cur.execute(
                sql.SQL(
                    "SELECT * FROM {}.shipment_scan WHERE shipment_id = %s "
                    "ORDER BY occurred_at, version"
                ).format(s),
                (shipment["shipment_id"],),
            ).fetchall()
    return found


def render(shipment: dict[str, Any], lang: str) -> None:
    """Print one shipment: where it is, when it comes, and every scan."""
    t, names = LABELS[lang], STATUS[lang]
    head = Table.grid(padding=(0, 2))
    for label, value in [
        (t["order"], shipment["order_no"] or "-"),
        (t["shipment"], str(shipment["shipment_id"])),
        (t["location"], shipment["location"]),
        (t["status"], names.get(shipment["status"], shipment["status"])),
        (t["carrier"], shipment["carrier"] or "-"),
        (t["tracking_no"], shipment["tracking_no"] or "-"),
        (t["shipped"], _at(shipment["shipped_at"])),
        (t["last_scan"], f"{_at(shipment['last_scan_at'])} {shipment['last_scan_location'] or ''}"),
        (t["eta"], _at(shipment["eta"])),
        (t["delivered"], _at(shipment["delivered_at"])),
        (t["signer"], shipment["signer"] or "-"),
        (t["failures"], str(shipment["failed_attempts"])),
    ]:
        head.add_row(f"[bold]{label}[/]", str(value))
    out.print(head)
    scans = Table(t["at"], t["status"], t["where"], t["detail"], title=t["scans"])
    for scan in shipment["scans"]:
        detail = (
            scan["reason"]
            or scan["signer"]
            or (f"{t['eta']} {_at(scan['eta'])}" if scan["eta"] else "")
        )
        scans.add_row(
            _at(scan["occurred_at"]),
            names.get(scan["status"], scan["status"]),
            scan["location"] or "-",
            detail,
        )
    out.print(scans)


@app.command()
@one_line_errors
def show(
    key: str = typer.Argument(..., help="An order number or a tracking number."),
    schema: str | None = SCHEMA,
) -> None:
    """Print the parcels of an order (or the parcel of a tracking number): status, ETA,
    signer and every carrier scan.

    Example: oms shipment show SF1400012345678
    """
    settings = get_settings()
    schema = schema_or_setting(schema)
    lang = language()
    with connect(settings.postgres.dsn, schema, "oms-shipment-show", create=False) as conn:
        found = find_shipments(conn, schema, key)
    if not found:
        out.print(LABELS[lang]["none"].format(key=key))
        raise typer.Exit(4)
    for shipment in found:
        render(shipment, lang)


@app.command()
@one_line_errors
def silent(
    hours: float | None = typer.Option(
        None,
        "--hours",
        help="Silent for at least this long [default: OMS_PROJECTIONS_SILENT_PARCEL_HOURS].",
        show_default=False,
    ),
    schema: str | None = SCHEMA,
) -> None:
    """List parcels on the road that no carrier has scanned for a while (the
    silent_parcel view): lost, stuck, or never scanned.

    Example: oms shipment silent --hours 24
    """
    settings = get_settings()
    schema = schema_or_setting(schema)
    limit = hours if hours is not None else settings.projections.silent_parcel_hours
    lang, t = language(), LABELS[language()]
    with connect(settings.postgres.dsn, schema, "oms-shipment-silent", create=False) as conn:
        conn.execute("SELECT set_config('oms.silent_parcel_hours', %s, false)", (str(limit),))
        with conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                sql.SQL("SELECT * FROM {}.silent_parcel ORDER BY last_heard_at").format(
                    sql.Identifier(schema)
                )
            ).fetchall()
    if not rows:
        out.print(t["quiet"].format(hours=limit))
        return
    table = Table(
        t["order"], t["carrier"], t["tracking_no"], t["status"], t["last_scan"], t["silent_for"]
    )
    for r in rows:
        table.add_row(
            r["order_no"] or "-",
            r["carrier"] or "-",
            r["tracking_no"] or "-",
            STATUS[lang].get(r["status"], r["status"]),
            f"{_at(r['last_heard_at'])} {r['last_scan_location'] or ''}",
            str(r["silent_for"]).split(".")[0],
        )
    out.print(table)
