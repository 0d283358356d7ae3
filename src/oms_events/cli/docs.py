"""``oms docs``: the warehouse's paper — pick lists in waves, pack lists, shipping labels
with e-waybills — and scan-to-verify packing (配货 → 验货 → 发货).

Reads the projections "warehouse" and "tracking" (run `oms project`); `pick` takes a
waybill number per shipment from the carrier port and records it on the shipment
(AssignWaybill), then waits until the projection shows it, so what it prints is what
the shipments hold. `verify` publishes the warehouse's "picked"/"packed" updates.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import psycopg
import typer
from rich.console import Console

from oms_events import topics
from oms_events.avro.registry import codec_from_settings
from oms_events.cli.errors import one_line_errors
from oms_events.cli.order import language
from oms_events.cli.project import SCHEMA, schema_or_setting
from oms_events.documents import render, store
from oms_events.documents import verify as scans
from oms_events.documents.bins import BinMap
from oms_events.documents.parcels import Parcel, Sender
from oms_events.documents.waves import pick_rows, wave_id
from oms_events.engine.commands import AssignWaybill
from oms_events.engine.records import CommandWriter
from oms_events.fulfilment.parcels import ParcelRules
from oms_events.kafka.connection import producer
from oms_events.projection.runner import connect
from oms_events.settings import Settings, get_settings
from oms_events.waybills.issuer import PostgresSerials, SandboxWaybillIssuer, WaybillIssuer

app = typer.Typer(
    help="Warehouse documents: pick lists, pack lists, shipping labels (PDF) and "
    "scan-to-verify packing. Reads the projections 'warehouse' and 'tracking'.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)
WAREHOUSE_UPDATE = "oms.warehouse.WarehouseUpdate"

OUTPUT = typer.Option("-o", "--output", help="PDF file to write, e.g. wave.pdf.")
LOCATION = typer.Option("--location", "-l", help="Warehouse id, e.g. WH-SH.")


def _fail(zh: str, en: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {zh if language() == 'zh' else en}", highlight=False)
    return typer.Exit(code)


def _connect(settings: Settings, schema: str | None, name: str) -> psycopg.Connection[Any]:
    return connect(settings.postgres.dsn, schema_or_setting(schema), name, create=False)


def _bins(settings: Settings) -> BinMap:
    try:
        return BinMap.load(settings.warehouse.bins)
    except (OSError, ValueError) as exc:
        raise _fail(f"库位文件无效：{exc}", f"OMS_WAREHOUSE_BINS: {exc}") from None


def _parcel_rules(settings: Settings) -> ParcelRules:
    try:
        return ParcelRules.from_settings(settings)
    except ValueError as exc:
        raise _fail(f"履约规则无效：{exc}", str(exc)) from None


def make_wave(
    settings: Settings,
    conn: psycopg.Connection[Any],
    issuer: WaybillIssuer,
    location: str,
    size: int,
    timeout: float,
) -> tuple[str, list[Parcel]]:
    """Take up to ``size`` unwaved shipments of ``location``, give each a waybill
    (AssignWaybill) and wait until the projection shows them in the wave. Shipments
    another wave took first are left out. Returns the wave and its parcels."""
    wave = wave_id(location, datetime.now(UTC))
    candidates = store.unwaved(conn, location, size)
    if not candidates:
        return wave, []
    rules = _parcel_rules(settings)
    for parcel in candidates:
        if rules.carrier(parcel) is None:
            raise _fail(
                f"没有承运商规则接受订单 {parcel.order_no} 的包裹："
                "请在规则文件的 [[carriers]] 中添加",
                f"no carrier rule takes the parcel of order {parcel.order_no} "
                f"({rules.facts(parcel)}): add a [[carriers]] rule to OMS_FULFILMENT_RULES",
            )
    writer = CommandWriter(settings, codec_from_settings(settings))
    p = producer(settings)
    try:
        for parcel in candidates:
            choice = rules.carrier(parcel)
            assert choice is not None  # checked above, before any waybill was taken
            carrier = choice.carrier
            r = writer.record(
                AssignWaybill(
                    command_id=f"{wave}/{parcel.shipment_id}",
                    shipment_id=parcel.shipment_id,
                    carrier=carrier,
                    tracking_no=issuer.issue(carrier),
                    wave=wave,
                )
            )
            p.send(r.topic, r.value, key=r.key, headers=r.headers)
        p.flush()
    finally:
        p.close()
    ids = [parcel.shipment_id for parcel in candidates]
    deadline = time.monotonic() + timeout

    def settled(now: dict[UUID, tuple[str | None, str]]) -> bool:
        # In a wave (ours or another's), or no longer waiting (cancelled meanwhile).
        return all(i in now and (now[i][0] or now[i][1] != "created") for i in ids)

    now = store.waves_of(conn, ids)
    while not settled(now) and time.monotonic() < deadline:
        time.sleep(0.2)
        now = store.waves_of(conn, ids)
    ours = [i for i in ids if i in now and now[i][0] == wave]
    if not ours:
        raise _fail(
            "运单已申请，但投影未在时限内显示：请确认引擎与 `oms project warehouse` 在运行",
            f"waybills requested but the projection did not show them within {timeout:g}s: "
            "is the engine running, and `oms project warehouse`?",
        )
    if len(ours) < len(ids):
        # Another wave took them first, or the shipment refused (cancelled meanwhile):
        # they are not on this wave's paper.
        err.print(
            f"[yellow]warning:[/] {len(ids) - len(ours)} of {len(ids)} shipments are not in "
            f"{wave} (taken by another wave, cancelled, or not shown yet); left out",
            highlight=False,
        )
    return wave, store.in_wave(conn, wave)


@app.command()
@one_line_errors
def pick(
    location: Annotated[str, LOCATION],
    output: Annotated[Path, OUTPUT],
    wave_size: Annotated[
        int | None,
        typer.Option(
            "--wave-size",
            "-n",
            min=1,
            help="Most shipments in the wave [default: OMS_WAREHOUSE_WAVE_SIZE, 20].",
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the projection to show the waybills.")
    ] = 30.0,
    schema: str | None = SCHEMA,
) -> None:
    """Make a pick wave (波次) and print its pick list.

    Takes LOCATION's oldest shipments not yet in a wave, gives each an e-waybill and
    writes the pick list (the path through the bins, a slot per parcel) to a PDF.

    Example: oms docs pick --location WH-SH --wave-size 30 -o wave.pdf
    """
    settings = get_settings()
    size = wave_size or settings.warehouse.wave_size
    bins = _bins(settings)
    # The sandbox's serial sequences are made on first use, so the migrator draws them.
    with (
        _connect(settings, schema, "oms-docs-pick") as conn,
        psycopg.connect(settings.postgres.migrator_dsn, autocommit=True) as serials,
    ):
        issuer = SandboxWaybillIssuer(PostgresSerials(serials))
        wave, parcels = make_wave(settings, conn, issuer, location, size, timeout)
    if not parcels:
        raise _fail(
            f"{location} 没有待拣货的发货单", f"no shipment waiting to be picked at {location}", 4
        )
    rows = pick_rows(parcels, bins)
    render.pick_list(
        output, wave, location, parcels, rows, datetime.now(UTC), settings.warehouse.font
    )
    out.print(
        f"{wave}: {len(parcels)} shipments, {sum(r.quantity for r in rows)} units -> {output}"
    )


@app.command()
@one_line_errors
def pack(
    output: Annotated[Path, OUTPUT],
    shipment: Annotated[
        str | None, typer.Argument(help="Shipment id or waybill number.", show_default=False)
    ] = None,
    wave: Annotated[str | None, typer.Option("--wave", help="Every shipment of a wave.")] = None,
    schema: str | None = SCHEMA,
) -> None:
    """Print pack lists (发货清单) of a shipment or a wave.

    One page per parcel: lines, quantities, bins, buyer, address, waybill, COD.

    Example: oms docs pack --wave W-WH-SH-20261201-143705 -o pack.pdf
    """
    if (shipment is None) == (wave is None):
        raise typer.BadParameter("give SHIPMENT or --wave (one of them)")
    settings = get_settings()
    with _connect(settings, schema, "oms-docs-pack") as conn:
        if wave:
            parcels = store.in_wave(conn, wave)
        else:
            found = store.one(conn, shipment or "")
            parcels = [found] if found else []
    if not parcels:
        raise _fail(f"未找到 {shipment or wave}", f"{shipment or wave} not found", 4)
    rules = _parcel_rules(settings)
    boxes = {p.shipment_id: text for p in parcels if (text := rules.box_text(p))}
    render.pack_lists(output, parcels, _bins(settings), settings.warehouse.font, boxes)
    out.print(f"{len(parcels)} pack lists -> {output}")


@app.command()
@one_line_errors
def labels(
    location: Annotated[str, LOCATION],
    output: Annotated[Path, OUTPUT],
    wave: Annotated[str | None, typer.Option("--wave", help="Only this wave's parcels.")] = None,
    schema: str | None = SCHEMA,
) -> None:
    """Print shipping labels (电子面单), 100×150 mm, into one PDF.

    One label per open shipment of LOCATION that has a waybill: recipient, address,
    sender, the waybill as Code 128 and QR code, order number, COD amount.

    Example: oms docs labels --location WH-SH -o labels.pdf
    """
    settings = get_settings()
    w = settings.warehouse
    with _connect(settings, schema, "oms-docs-labels") as conn:
        parcels = store.to_label(conn, location, wave)
    if not parcels:
        raise _fail(
            f"{location} 没有待打印的面单（先运行 oms docs pick）",
            f"no labels to print at {location} (run `oms docs pick` first)",
            4,
        )
    sender = Sender(w.sender_name, w.sender_phone, w.sender_addresses)
    render.labels(output, parcels, sender, w.font)
    out.print(f"{len(parcels)} labels -> {output}")


@app.command("verify")
@one_line_errors
def verify_parcel(
    shipment: Annotated[str, typer.Argument(help="Shipment id or waybill number.")],
    scan: Annotated[
        list[str] | None,
        typer.Option("--scan", help="A scanned barcode (repeat per unit); none: read stdin."),
    ] = None,
    schema: str | None = SCHEMA,
) -> None:
    """Verify a parcel by scanning its units (验货); a match records it packed.

    The scanned sku barcodes must be exactly the pack list: a wrong sku, one too many
    or one missing is refused with what is wrong. A match publishes the warehouse's
    "packed" update on oms.warehouse.updates. Without --scan, reads one barcode per
    line from stdin, as a handheld scanner types them.

    Example: oms docs verify SF1000000000007 --scan SKU-TEA-001 --scan SKU-TEA-001
    """
    settings = get_settings()
    lang = language()
    barcodes = scans.read_scans(scan if scan else sys.stdin)
    with _connect(settings, schema, "oms-docs-verify") as conn:
        parcel = store.one(conn, shipment)
    if parcel is None:
        raise _fail(f"未找到发货单 {shipment}", f"shipment {shipment} not found", 4)
    if parcel.status not in store.OPEN:
        raise _fail(
            f"发货单状态为 {parcel.status}，不可打包",
            f"shipment is {parcel.status}: do not pack it",
        )
    mismatches = scans.check(parcel.expected(), barcodes)
    if mismatches:
        head = "验货不符，未打包：" if lang == "zh" else "verify refused, not packed: "
        err.print(
            "[bold red]error:[/] " + head + "; ".join(m.message(lang) for m in mismatches),
            highlight=False,
        )
        raise typer.Exit(1)
    _publish_packed(settings, parcel)
    done = "验货通过，已打包" if lang == "zh" else "verified and packed"
    out.print(f"{parcel.order_no} {parcel.tracking_no or ''}: {done} ({parcel.units})")


def _publish_packed(settings: Settings, parcel: Parcel) -> None:
    """The warehouse's updates for a verified parcel: picked (when not yet) and packed."""
    codec = codec_from_settings(settings)
    topic = topics.name(settings, topics.WAREHOUSE_UPDATES)
    statuses = ["picked", "packed"] if parcel.status == "created" else ["packed"]
    p = producer(settings)
    try:
        for status in statuses:
            value = codec.encode(
                WAREHOUSE_UPDATE,
                {
                    "update_id": f"{parcel.shipment_id}/{status}",
                    "shipment_id": str(parcel.shipment_id),
                    "location": parcel.location,
                    "status": status,
                    "carrier": None,
                    "tracking_no": None,
                    "at": datetime.now(UTC),
                },
                topic=topic,
            )
            p.send(topic, value, key=str(parcel.shipment_id).encode())
        p.flush()
    finally:
        p.close()
