"""The documents as PDF: pick lists, pack lists and 100×150 mm shipping labels.

Drawn with ReportLab alone: its own Code 128 and QR code widgets draw vectors, so the
bars stay sharp at any printer resolution (a 203 dpi thermal head included) and no
raster images or second barcode library are needed. Chinese text uses a TrueType font
embedded (subset) in the PDF — WenQuanYi Zen Hei from Debian's fonts-wqy-zenhei by
default — because the built-in CID font STSong-Light is not embedded and prints only
where the viewer has Adobe's Chinese language pack (poppler without poppler-data
renders nothing); without the font file we fall back to STSong-Light all the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from uuid import UUID

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode import code128, qr
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from oms_events.documents.bins import BinMap
from oms_events.documents.parcels import Parcel, Sender
from oms_events.documents.waves import PickRow
from oms_events.waybills.formats import FORMATS

LABEL_SIZE = (100 * mm, 150 * mm)  # the thermal label stock of Chinese e-waybills


@cache
def font(path: Path) -> str:
    """The registered name of the CJK font (``path`` embedded, else STSong-Light)."""
    if path.is_file():
        pdfmetrics.registerFont(TTFont("OmsCJK", str(path), subfontIndex=0))
        return "OmsCJK"
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def money(amount: int, currency: str) -> str:
    """Minor units as ``¥129.00`` (CNY) or ``129.00 USD``."""
    value = f"{Decimal(amount).scaleb(-2):,.2f}"
    return f"¥{value}" if currency == "CNY" else f"{value} {currency}"


def masked(phone: str | None) -> str:
    """A phone with its middle four digits hidden, as e-waybills print it (隐私面单)."""
    if not phone:
        return ""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 11 else phone


def wrap(text: str, face: str, size: float, width: float) -> list[str]:
    """``text`` in lines no wider than ``width`` (by character: Chinese has no spaces)."""
    lines, current = [], ""
    for ch in text:
        if pdfmetrics.stringWidth(current + ch, face, size) > width and current:
            lines.append(current)
            current = ch
        else:
            current += ch
    return [*lines, current] if current else lines


def draw_code128(c: Canvas, value: str, x: float, y: float, width: float, height: float) -> None:
    """A Code 128 barcode of ``value`` centred in ``width`` (module at most 0.5 mm)."""
    probe = code128.Code128(value, barWidth=1, quiet=False)
    module = min(0.5 * mm, width / probe.width)
    bar = code128.Code128(value, barWidth=module, barHeight=height, quiet=False)
    bar.drawOn(c, x + (width - bar.width) / 2, y)


def draw_qr(c: Canvas, value: str, x: float, y: float, size: float) -> None:
    """A QR code of ``value``, ``size`` square (quiet zone included)."""
    widget = qr.QrCodeWidget(value, barBorder=2)
    x1, y1, x2, y2 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x2 - x1), 0, 0, size / (y2 - y1), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, c, x, y)


def _text(c: Canvas, face: str, size: float, x: float, y: float, text: str) -> None:
    c.setFont(face, size)
    c.drawString(x, y, text)


# --- shipping labels --------------------------------------------------------------


def labels(path: Path, parcels: Sequence[Parcel], sender: Sender, font_path: Path) -> None:
    """One 100×150 mm label per parcel, batch-printed into one PDF at ``path``."""
    face = font(font_path)
    c = Canvas(str(path), pagesize=LABEL_SIZE)
    c.setTitle("shipping labels")
    for parcel in parcels:
        _label(c, face, parcel, sender)
        c.showPage()
    c.save()


def _label(c: Canvas, face: str, p: Parcel, sender: Sender) -> None:
    width, height = LABEL_SIZE
    left, inner = 4 * mm, width - 8 * mm
    if p.tracking_no is None or p.carrier is None:
        raise ValueError(f"shipment {p.shipment_id} has no waybill: run `oms docs pick` first")
    fmt = FORMATS.get(p.carrier)
    carrier_name = f"{fmt.name_zh} {fmt.name_en}" if fmt else p.carrier
    # Header: carrier and product.
    _text(c, face, 13, left, height - 10 * mm, carrier_name)
    product = "标快 Standard" if p.delivery_speed == "standard" else "特快 Express"
    c.setFont(face, 11)
    c.drawRightString(width - left, height - 10 * mm, product)
    c.line(left, height - 13 * mm, width - left, height - 13 * mm)
    # The waybill number as Code 128, the number under it.
    draw_code128(c, p.tracking_no, left, height - 36 * mm, inner, 20 * mm)
    c.setFont(face, 12)
    c.drawCentredString(width / 2, height - 41 * mm, p.tracking_no)
    c.line(left, height - 44 * mm, width - left, height - 44 * mm)
    # Recipient.
    y = height - 50 * mm
    _text(c, face, 11, left, y, f"收 {p.recipient}  {masked(p.phone)}")
    for row in wrap(p.address.text(), face, 10, inner)[:3]:
        y -= 5 * mm
        _text(c, face, 10, left, y, row)
    c.line(left, height - 72 * mm, width - left, height - 72 * mm)
    # Sender.
    y = height - 77 * mm
    _text(c, face, 9, left, y, f"寄 {sender.name}  {sender.phone}")
    for row in wrap(sender.address(p.location), face, 8, inner)[:2]:
        y -= 4 * mm
        _text(c, face, 8, left, y, row)
    c.line(left, height - 88 * mm, width - left, height - 88 * mm)
    # QR code of the waybill, order and money.
    draw_qr(c, p.tracking_no, left, 20 * mm, 38 * mm)
    x = left + 42 * mm
    _text(c, face, 9, x, 52 * mm, f"订单 {p.order_no}")
    _text(c, face, 9, x, 47 * mm, f"件数 {p.units}")
    if p.wave:
        _text(c, face, 7, x, 42 * mm, p.wave)
    if p.cod_amount is not None:
        _text(c, face, 11, x, 33 * mm, "代收货款 COD")
        _text(c, face, 14, x, 26 * mm, money(p.cod_amount, p.currency))
    _text(c, face, 7, left, 8 * mm, f"{p.location}  {p.shipment_id!s}")


# --- pick lists ---------------------------------------------------------------------


def pick_list(
    path: Path,
    wave: str,
    location: str,
    parcels: Sequence[Parcel],
    rows: Sequence[PickRow],
    made_at: datetime,
    font_path: Path,
) -> None:
    """The wave's pick list (A4): the path through the bins, then the slots' parcels."""
    face = font(font_path)
    c = Canvas(str(path), pagesize=A4)
    c.setTitle(f"pick list {wave}")
    width, height = A4
    left = 15 * mm

    def header() -> float:
        _text(c, face, 15, left, height - 18 * mm, f"拣货单 Pick list  {wave}")
        _text(
            c,
            face,
            9,
            left,
            height - 25 * mm,
            f"仓库 {location}   {made_at:%Y-%m-%d %H:%M}   包裹 {len(parcels)}   "
            f"件数 {sum(r.quantity for r in rows)}",
        )
        draw_code128(c, wave, left, height - 42 * mm, 90 * mm, 12 * mm)
        return float(height - 50 * mm)

    y = header()
    columns = (left, left + 30 * mm, left + 95 * mm, left + 115 * mm)
    titles = ("库位 Bin", "商品 SKU", "数量 Qty", "分拣格 Slot × qty")
    for x, title in zip(columns, titles, strict=True):
        _text(c, face, 9, x, y, title)
    y -= 2 * mm
    c.line(left, y, width - left, y)
    for row in rows:
        y -= 6 * mm
        if y < 20 * mm:
            c.showPage()
            y = header() - 6 * mm
        slots = "  ".join(f"{slot}×{units}" for slot, units in row.slots)
        for x, value in zip(columns, (row.bin, row.sku, str(row.quantity), slots), strict=True):
            _text(c, face, 10, x, y, value)
    y -= 12 * mm
    _text(c, face, 11, left, y, "分拣格 Slots")
    for slot, parcel in enumerate(parcels, start=1):
        y -= 6 * mm
        if y < 20 * mm:
            c.showPage()
            y = header() - 6 * mm
        _text(
            c,
            face,
            9,
            left,
            y,
            f"{slot:>3}  {parcel.order_no}  {parcel.carrier or ''} {parcel.tracking_no or ''}"
            f"  {parcel.units} 件",
        )
    c.showPage()
    c.save()


# --- pack lists ---------------------------------------------------------------------


def pack_lists(
    path: Path,
    parcels: Sequence[Parcel],
    bins: BinMap,
    font_path: Path,
    boxes: Mapping[UUID, str] | None = None,
) -> None:
    """One A5-sized pack list (发货清单) per parcel, to go in the box; ``boxes`` names
    the boxes to pack each shipment in (box choice, when a catalogue is set)."""
    face = font(font_path)
    page = (148 * mm, 210 * mm)
    c = Canvas(str(path), pagesize=page)
    c.setTitle("pack lists")
    width, height = page
    left = 10 * mm
    for p in parcels:
        _text(c, face, 14, left, height - 15 * mm, "发货清单 Packing list")
        y = height - 23 * mm
        info = (
            f"订单 Order {p.order_no}",
            f"收货人 {p.recipient}  {p.phone or ''}",
            *wrap(f"地址 {p.address.text()}", face, 9, width - 2 * left)[:3],
            f"快递 {p.carrier or '-'} {p.tracking_no or '-'}    波次 {p.wave or '-'}",
            *(
                [f"箱型 Box {(boxes or {})[p.shipment_id]}"]
                if p.shipment_id in (boxes or {})
                else []
            ),
        )
        for row in info:
            _text(c, face, 9, left, y, row)
            y -= 5 * mm
        if p.tracking_no:
            draw_code128(c, p.tracking_no, left, y - 12 * mm, 70 * mm, 12 * mm)
        y -= 20 * mm
        for x, title in zip(
            (left, left + 12 * mm, left + 72 * mm, left + 105 * mm),
            ("行", "商品 SKU", "库位 Bin", "数量 Qty"),
            strict=True,
        ):
            _text(c, face, 9, x, y, title)
        y -= 2 * mm
        c.line(left, y, width - left, y)
        for line in p.lines:
            y -= 6 * mm
            if y < 25 * mm:  # a long parcel continues on the next page
                c.showPage()
                y = height - 15 * mm
            for x, value in zip(
                (left, left + 12 * mm, left + 72 * mm, left + 105 * mm),
                (str(line.line_no), line.sku, bins.bin(p.location, line.sku), str(line.quantity)),
                strict=True,
            ):
                _text(c, face, 10, x, y, value)
        y -= 8 * mm
        _text(c, face, 10, left, y, f"合计 Total {p.units} 件 units")
        if p.cod_amount is not None:
            y -= 6 * mm
            _text(c, face, 10, left, y, f"货到付款 COD {money(p.cod_amount, p.currency)}")
        _text(c, face, 7, left, 8 * mm, str(p.shipment_id))
        c.showPage()
    c.save()
