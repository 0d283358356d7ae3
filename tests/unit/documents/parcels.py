"""Parcels for document tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from oms_events.documents.parcels import Address, Parcel, ParcelLine

SHENZHEN = Address("CN", "广东省", "深圳市", "南山区", "科苑路15号科兴科学园B栋1201室")


def parcel(
    lines: list[tuple[str, int]],
    *,
    carrier: str | None = None,
    tracking_no: str | None = None,
    cod: int | None = None,
    location: str = "WH",
) -> Parcel:
    """A parcel of ``lines`` (sku, quantity) to 张三 in Shenzhen."""
    return Parcel(
        shipment_id=uuid.uuid4(),
        order_id=uuid.uuid4(),
        order_no=f"WEB-{uuid.uuid4().hex[:8]}",
        location=location,
        status="created",
        lines=tuple(ParcelLine(n, sku, q) for n, (sku, q) in enumerate(lines, start=1)),
        recipient="张三",
        phone="13812345678",
        address=SHENZHEN,
        delivery_speed="standard",
        currency="CNY",
        cod_amount=cod,
        created_at=datetime.now(UTC),
        carrier=carrier,
        tracking_no=tracking_no,
        wave="W-WH-20261201-150000" if tracking_no else None,
    )
