"""Reading parcels from the projections: ``warehouse_shipment`` and ``delivery_address``
(projection "warehouse") joined with ``order_tracking`` (projection "tracking").

A shipment whose order the tracking projection has not seen yet is left out: its label
would have no recipient. It is picked up by the next wave.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from oms_events.documents.parcels import Address, Parcel, ParcelLine

OPEN = ("created", "picked", "packed")

_SELECT = """
SELECT s.shipment_id, s.order_id, s.location, s.status, s.lines, s.carrier, s.tracking_no,
       s.wave, s.parcel_price, s.created_at, o.order_no, o.customer_name, o.phone, o.delivery_speed,
       o.payment_method, o.order_total, o.amount_paid, o.currency,
       a.country, a.province, a.city, a.district, a.line1, a.postcode
FROM warehouse_shipment s
JOIN order_tracking o ON o.order_id = s.order_id
JOIN delivery_address a ON a.order_id = s.order_id
"""


def parcel_of(row: dict[str, Any]) -> Parcel:
    """A row of the parcels query (shipment, order and address columns) as a parcel."""
    # Cash on delivery: the courier collects what the customer still owes, and of an
    # order split over several parcels, what this parcel's lines cost (as the order
    # judges the cash each courier hands over: Order.parcel_price).
    due = row["order_total"] - row["amount_paid"]
    if row["parcel_price"] is not None:
        due = min(due, row["parcel_price"])
    return Parcel(
        shipment_id=row["shipment_id"],
        order_id=row["order_id"],
        order_no=row["order_no"],
        location=row["location"],
        status=row["status"],
        lines=tuple(
            ParcelLine(ln["line_no"], ln["sku"], ln["quantity"])
            for ln in sorted(row["lines"], key=lambda ln: ln["line_no"])
        ),
        recipient=row["customer_name"],
        phone=row["phone"],
        address=Address(
            row["country"],
            row["province"],
            row["city"],
            row["district"],
            row["line1"],
            row["postcode"],
        ),
        delivery_speed=row["delivery_speed"],
        currency=row["currency"],
        cod_amount=due if row["payment_method"] == "cod" and due > 0 else None,
        created_at=row["created_at"],
        carrier=row["carrier"],
        tracking_no=row["tracking_no"],
        wave=row["wave"],
    )


def _query(conn: psycopg.Connection[Any], where: str, order: str, *params: Any) -> list[Parcel]:
    query = f"{_SELECT} WHERE {where} ORDER BY {order}"
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return [parcel_of(row) for row in cur]


def unwaved(conn: psycopg.Connection[Any], location: str, limit: int) -> list[Parcel]:
    """The oldest ``limit`` shipments of ``location`` not yet picked nor in a wave."""
    return _query(
        conn,
        "s.location = %s AND s.status = 'created' AND s.wave IS NULL",
        "s.created_at, s.shipment_id LIMIT %s",
        location,
        limit,
    )


def in_wave(conn: psycopg.Connection[Any], wave: str) -> list[Parcel]:
    """The shipments of a wave, in the order they joined it (their slots)."""
    return _query(conn, "s.wave = %s", "s.created_at, s.shipment_id", wave)


def to_label(conn: psycopg.Connection[Any], location: str, wave: str | None) -> list[Parcel]:
    """Open shipments of ``location`` (of one ``wave`` when given) that have a waybill."""
    where = "s.location = %s AND s.status = ANY(%s) AND s.tracking_no IS NOT NULL"
    params: list[Any] = [location, list(OPEN)]
    if wave:
        where += " AND s.wave = %s"
        params.append(wave)
    return _query(conn, where, "s.wave, s.created_at, s.shipment_id", *params)


def one(conn: psycopg.Connection[Any], ref: str) -> Parcel | None:
    """The shipment named by its id or by its waybill number (the label's barcode)."""
    try:
        shipment_id: UUID | None = UUID(ref)
    except ValueError:
        shipment_id = None
    if shipment_id is not None:
        found = _query(conn, "s.shipment_id = %s", "s.shipment_id", shipment_id)
    else:
        found = _query(conn, "s.tracking_no = %s", "s.created_at DESC", ref)
    return found[0] if found else None


def waves_of(
    conn: psycopg.Connection[Any], shipment_ids: list[UUID]
) -> dict[UUID, tuple[str | None, str]]:
    """The wave each shipment is in now and its status, as the projection has them."""
    rows = conn.execute(
        "SELECT shipment_id, wave, status FROM warehouse_shipment WHERE shipment_id = ANY(%s)",
        (shipment_ids,),
    ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}
