"""Projection "warehouse": delivery addresses and the shipments' lines and waybills.

Reads ``oms.order.events`` (OrderPlaced, AddressChanged) and ``oms.shipment.events``;
writes ``delivery_address`` and ``warehouse_shipment``, which ``oms docs`` reads
(with ``order_tracking``) to make pick lists, pack lists and shipping labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from oms_events import topics
from oms_events.eventlog import EventRecord
from oms_events.projection import rows
from oms_events.projection.rowcache import RowCache
from oms_events.projection.rows import Row
from oms_events.projection.spec import Projection, Record

ADDRESS = (
    "order_id",
    "country",
    "province",
    "city",
    "district",
    "line1",
    "postcode",
    "version",
    "updated_at",
)
SHIPMENT = (
    "shipment_id",
    "order_id",
    "location",
    "status",
    "lines",
    "parcel_price",
    "carrier",
    "tracking_no",
    "wave",
    "waybill_at",
    "created_at",
    "version",
    "updated_at",
)


def address(row: Row, e: EventRecord) -> None:
    """OrderPlaced / AddressChanged: the address the label prints."""
    a = e.payload["address"]
    row.update(
        order_id=e.originator_id,
        country=a["country"],
        province=a["province"],
        city=a["city"],
        district=a["district"],
        line1=a["line1"],
        postcode=a["postcode"],
    )


ORDER_HANDLERS: dict[str, rows.Handler] = {"OrderPlaced": address, "AddressChanged": address}


def created(row: Row, e: EventRecord) -> None:
    """ShipmentCreated: the lines to pick."""
    p = e.payload
    row.update(
        shipment_id=e.originator_id,
        order_id=p["order_id"],
        location=p["location"],
        status="created",
        lines=[
            {"line_no": ln["line_no"], "sku": ln["sku"], "quantity": ln["quantity"]}
            for ln in p["lines"]
        ],
        parcel_price=p.get("parcel_price"),
        created_at=e.timestamp,
    )


def waybill_assigned(row: Row, e: EventRecord) -> None:
    """WaybillAssigned: the label's number and the wave."""
    p = e.payload
    row.update(
        carrier=p["carrier"], tracking_no=p["tracking_no"], wave=p["wave"], waybill_at=e.timestamp
    )


def shipped(row: Row, e: EventRecord) -> None:
    """ShipmentShipped: the warehouse's word on carrier and number is final."""
    row.update(status="shipped", carrier=e.payload["carrier"], tracking_no=e.payload["tracking_no"])


def becomes(status: str) -> rows.Handler:
    """A handler that moves the shipment to ``status``."""

    def handler(row: Row, e: EventRecord) -> None:
        row["status"] = status

    handler.__doc__ = f"The shipment becomes {status}."
    return handler


SHIPMENT_HANDLERS: dict[str, rows.Handler] = {
    "ShipmentCreated": created,
    "WaybillAssigned": waybill_assigned,
    "ShipmentPicked": becomes("picked"),
    "ShipmentPacked": becomes("packed"),
    "ShipmentShipped": shipped,
    "ShipmentInTransit": becomes("in_transit"),
    "ShipmentDelivered": becomes("delivered"),
    "DeliveryFailed": becomes("delivery_failed"),
    "ShipmentReturned": becomes("returned"),
    "ShipmentCancelled": becomes("cancelled"),
}


def write(conn: psycopg.Connection[Any], records: Sequence[Record], cache: RowCache) -> None:
    """Fold the batch's addresses and shipments, then upsert their rows."""
    events = [r for r in records if isinstance(r, EventRecord)]
    order_events = [e for e in events if e.aggregate_type == "order"]
    shipment_events = [e for e in events if e.aggregate_type == "shipment"]
    addresses = cache.rows(
        "address",
        {e.originator_id for e in order_events},
        lambda ids: rows.load(conn, "delivery_address", "order_id", ids),
    )
    changed = rows.fold(order_events, addresses, ORDER_HANDLERS, creators={"OrderPlaced"})
    cache.keep("address", changed)
    shipments = cache.rows(
        "shipment",
        {e.originator_id for e in shipment_events},
        lambda ids: rows.load(conn, "warehouse_shipment", "shipment_id", ids),
    )
    changed_shipments = rows.fold(
        shipment_events, shipments, SHIPMENT_HANDLERS, creators={"ShipmentCreated"}
    )
    cache.keep("shipment", changed_shipments)
    rows.upsert(
        conn,
        "delivery_address",
        ADDRESS,
        rows.as_tuples(changed.values(), ADDRESS),
        key=("order_id",),
    )
    shipment_rows = [dict(r, lines=Jsonb(r["lines"])) for r in changed_shipments.values()]
    rows.upsert(
        conn,
        "warehouse_shipment",
        SHIPMENT,
        rows.as_tuples(shipment_rows, SHIPMENT),
        key=("shipment_id",),
    )


PROJECTION = Projection(
    name="warehouse",
    topics=(topics.events("order"), topics.events("shipment")),
    group="oms-projection-warehouse",
    migrations=("009_warehouse.sql", "023_parcel_price.sql"),
    events=frozenset(ORDER_HANDLERS) | frozenset(SHIPMENT_HANDLERS),
    write=write,
)
