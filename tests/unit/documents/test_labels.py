"""Shipping labels as a printer and a scanner see them: the PDF rasterized at a thermal
printer's 203 dpi (pdftoppm), its Code 128 and QR code read back by a real decoder
(zbarimg), its Chinese text present (pdftotext)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from oms_events.documents import render
from oms_events.documents.parcels import Sender
from oms_events.settings import Settings
from oms_events.waybills.issuer import MemorySerials, SandboxWaybillIssuer
from tests.unit.documents.parcels import parcel

FONT = Settings().warehouse.font
SENDER = Sender("OMS 发货仓", "400-000-0000", {"WH": "上海市青浦区华志路123号"})


def decoded(png: Path) -> list[str]:
    """Every symbol zbarimg finds in an image, as ``TYPE:data``."""
    done = subprocess.run(
        ["zbarimg", "--quiet", str(png)], capture_output=True, text=True, check=True
    )
    return sorted(done.stdout.split())


def test_every_label_s_barcode_and_qr_code_decode_to_its_waybill(tmp_path: Path) -> None:
    issuer = SandboxWaybillIssuer(MemorySerials())
    carriers = ["SF", "ZTO", "YTO", "STO", "JD"]
    parcels = [
        parcel([("SKU-TEA", 2)], carrier=c, tracking_no=issuer.issue(c), cod=12900 if i else None)
        for i, c in enumerate(carriers)
    ]
    pdf = tmp_path / "labels.pdf"
    render.labels(pdf, parcels, SENDER, FONT)

    subprocess.run(["pdftoppm", "-r", "203", "-png", str(pdf), str(tmp_path / "p")], check=True)
    pages = sorted(tmp_path.glob("p-*.png"))
    assert len(pages) == len(parcels)
    for page, p in zip(pages, parcels, strict=True):
        assert decoded(page) == [f"CODE-128:{p.tracking_no}", f"QR-Code:{p.tracking_no}"]


def test_a_label_prints_the_chinese_address_the_order_no_and_the_cod_amount(
    tmp_path: Path,
) -> None:
    p = parcel([("SKU-TEA", 1)], carrier="SF", tracking_no="SF1000000000001", cod=12900)
    pdf = tmp_path / "label.pdf"
    render.labels(pdf, [p], SENDER, FONT)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = "".join(text.split())
    assert "广东省深圳市南山区科苑路15号" in flat
    assert "上海市青浦区华志路123号" in flat
    assert p.order_no in flat
    assert "¥129.00" in flat
    assert "138****5678" in flat  # privacy waybill: the phone masked
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout
    assert "WenQuanYi" in fonts  # embedded, so any printer renders the Chinese
