"""Projection "inventory": stock per sku and location, and units shipped per day.

Reads ``oms.inventory.events``; writes ``inventory_level`` and
``inventory_sales_daily`` (the ``low_stock`` view reads both).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

import psycopg

from oms_events import topics
from oms_events.eventlog import EventRecord
from oms_events.projection import rows
from oms_events.projection.rowcache import RowCache
from oms_events.projection.rows import Row
from oms_events.projection.spec import Projection, Record

LEVEL = (
    "item_id",
    "sku",
    "location",
    "on_hand",
    "reserved",
    "low_stock_threshold",
    "version",
    "updated_at",
)


def registered(row: Row, e: EventRecord) -> None:
    """ItemRegistered: a new item with nothing on hand."""
    p = e.payload
    row.update(
        item_id=e.originator_id,
        sku=p["sku"],
        location=p["location"],
        on_hand=0,
        reserved=0,
        low_stock_threshold=p["low_stock_threshold"],
    )


def received(row: Row, e: EventRecord) -> None:
    """StockReceived / StockRestocked: units arrive on hand."""
    row["on_hand"] += e.payload["quantity"]


def adjusted(row: Row, e: EventRecord) -> None:
    """StockAdjusted: a count or damage corrects on hand by a signed delta."""
    row["on_hand"] += e.payload["delta"]


def reserved(row: Row, e: EventRecord) -> None:
    """StockReserved: units promised to an order."""
    row["reserved"] += e.payload["quantity"]


def released(row: Row, e: EventRecord) -> None:
    """ReservationReleased: promised units become available again."""
    row["reserved"] -= e.payload["quantity"]


def committed(row: Row, e: EventRecord) -> None:
    """ReservationCommitted: the goods left, so on hand and reserved both drop."""
    row["on_hand"] -= e.payload["quantity"]
    row["reserved"] -= e.payload["quantity"]
    sold = row.setdefault("_sold", Counter())
    sold[e.timestamp.date()] += e.payload["quantity"]


def released_shipped(row: Row, e: EventRecord) -> None:
    """ReleasedStockShipped: a cancelled order's units left anyway (its reservation was
    released already): on hand drops. Not a sale: the parcel is being intercepted."""
    row["on_hand"] -= e.payload["quantity"]


def threshold_set(row: Row, e: EventRecord) -> None:
    """ThresholdSet: a new low-stock threshold."""
    row["low_stock_threshold"] = e.payload["threshold"]


HANDLERS = {
    "ItemRegistered": registered,
    "StockReceived": received,
    "StockRestocked": received,
    "StockAdjusted": adjusted,
    "StockReserved": reserved,
    "ReservationReleased": released,
    "ReservationCommitted": committed,
    "ReleasedStockShipped": released_shipped,
    "ThresholdSet": threshold_set,
}


def write(conn: psycopg.Connection[Any], records: Sequence[Record], cache: RowCache) -> None:
    """Fold a batch into the items it touches and write them back, guarded by version."""
    events = [r for r in records if isinstance(r, EventRecord)]
    state = cache.rows(
        "item",
        {e.originator_id for e in events},
        lambda ids: rows.load(conn, "inventory_level", "item_id", ids),
    )
    changed = rows.fold(events, state, HANDLERS, creators={"ItemRegistered"})
    cache.keep("item", changed)
    rows.upsert(
        conn, "inventory_level", LEVEL, rows.as_tuples(changed.values(), LEVEL), key=("item_id",)
    )
    # Sales count only events that passed the version guard above, in this transaction.
    sales: list[tuple[UUID, date, int]] = [
        (item_id, day, units)
        for item_id, row in changed.items()
        for day, units in row.pop("_sold", Counter()).items()
    ]
    rows.add_up(
        conn, "inventory_sales_daily", ("item_id", "day", "units"), sales, key=("item_id", "day")
    )


PROJECTION = Projection(
    name="inventory",
    topics=(topics.events("inventory"),),
    group="oms-projection-inventory",
    migrations=("001_inventory.sql",),
    events=frozenset(HANDLERS),
    write=write,
)
