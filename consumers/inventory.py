"""Projection "inventory": stock per sku and location, and the stock ledger.

Reads ``oms.inventory.events``; writes ``inventory_level`` and ``stock_ledger`` (the
``inventory_sales_daily`` view buckets its shipped movements by business day, the
``low_stock`` view of projections/views/ adds the forecast): one row per event that moves
on hand, reserved or in transit, with its reason, actor and Kafka position, entered by
the same fold as the level so that an item's ledger always sums to its level.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
    "in_transit",
    "low_stock_threshold",
    "low_since",
    "version",
    "updated_at",
)
LEDGER = (
    "item_id",
    "version",
    "sku",
    "location",
    "movement",
    "on_hand_delta",
    "reserved_delta",
    "in_transit_delta",
    "reason",
    "note",
    "actor",
    "reference",
    "other_location",
    "event_name",
    "event_topic",
    "event_partition",
    "event_offset",
    "occurred_at",
)


def _move(
    row: Row,
    e: EventRecord,
    movement: str,
    on_hand: int = 0,
    reserved: int = 0,
    in_transit: int = 0,
    reference: object = None,
    other_location: str | None = None,
) -> None:
    """Apply a movement to the level and note its ledger row (written with the level)."""
    row["on_hand"] += on_hand
    row["reserved"] += reserved
    row["in_transit"] = row.get("in_transit", 0) + in_transit
    p = e.payload
    row.setdefault("_moves", []).append(
        (
            e.originator_id,
            e.originator_version,
            row["sku"],
            row["location"],
            movement,
            on_hand,
            reserved,
            in_transit,
            p.get("reason") or None,
            p.get("note") or None,
            p.get("actor") or None,  # empty: the engine, or an earlier version
            None if reference is None else str(reference),
            other_location,
            e.name,
            e.topic,
            e.partition,
            e.offset,
            e.timestamp,
        )
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
        in_transit=0,
        low_stock_threshold=p["low_stock_threshold"],
        low_since=None,
    )


def received(row: Row, e: EventRecord) -> None:
    """StockReceived: units arrive on hand (a purchase order)."""
    _move(row, e, "received", on_hand=e.payload["quantity"])


def restocked(row: Row, e: EventRecord) -> None:
    """StockRestocked: returned units back on hand."""
    _move(row, e, "restocked", on_hand=e.payload["quantity"], reference=e.payload["return_id"])


def adjusted(row: Row, e: EventRecord) -> None:
    """StockAdjusted: damage, loss, found or a correction changes on hand by a signed delta."""
    _move(row, e, "adjusted", on_hand=e.payload["delta"])


def counted(row: Row, e: EventRecord) -> None:
    """StockCounted: a cycle count sets on hand (its delta may be 0: still a trace)."""
    _move(row, e, "counted", on_hand=e.payload["delta"])


def reserved(row: Row, e: EventRecord) -> None:
    """StockReserved: units promised to an order."""
    _move(row, e, "reserved", reserved=e.payload["quantity"], reference=e.payload["order_id"])


def released(row: Row, e: EventRecord) -> None:
    """ReservationReleased: promised units become available again."""
    _move(row, e, "released", reserved=-e.payload["quantity"], reference=e.payload["order_id"])


def committed(row: Row, e: EventRecord) -> None:
    """ReservationCommitted: the goods left, so on hand and reserved both drop."""
    quantity = e.payload["quantity"]
    _move(row, e, "shipped", on_hand=-quantity, reserved=-quantity, reference=e.payload["order_id"])


def transfer_dispatched(row: Row, e: EventRecord) -> None:
    """TransferDispatched: units leave for another location."""
    p = e.payload
    _move(
        row,
        e,
        "transfer_out",
        on_hand=-p["quantity"],
        reference=p["transfer_id"],
        other_location=p["to_location"],
    )


def transfer_expected(row: Row, e: EventRecord) -> None:
    """TransferExpected: units on their way here."""
    p = e.payload
    _move(
        row,
        e,
        "transfer_expected",
        in_transit=p["quantity"],
        reference=p["transfer_id"],
        other_location=p["from_location"],
    )


def transfer_received(row: Row, e: EventRecord) -> None:
    """TransferReceived: units in transit arrive on hand."""
    p = e.payload
    _move(
        row,
        e,
        "transfer_in",
        on_hand=p["quantity"],
        in_transit=-p["quantity"],
        reference=p["transfer_id"],
        other_location=p["from_location"],
    )


def released_shipped(row: Row, e: EventRecord) -> None:
    """ReleasedStockShipped: a cancelled order's units left anyway (its reservation was
    released already): on hand drops. Not a sale: the parcel is being intercepted."""
    p = e.payload
    _move(row, e, "shipped", on_hand=-p["quantity"], reference=p["reservation_id"])


def threshold_set(row: Row, e: EventRecord) -> None:
    """ThresholdSet: a new low-stock threshold."""
    row["low_stock_threshold"] = e.payload["threshold"]


def low_stock(row: Row, e: EventRecord) -> None:
    """LowStock: available fell below the threshold."""
    row["low_since"] = e.timestamp


def replenished(row: Row, e: EventRecord) -> None:
    """StockReplenished: available is back at or above the threshold."""
    row["low_since"] = None


HANDLERS = {
    "ItemRegistered": registered,
    "StockReceived": received,
    "StockRestocked": restocked,
    "StockAdjusted": adjusted,
    "StockCounted": counted,
    "StockReserved": reserved,
    "ReservationReleased": released,
    "ReservationCommitted": committed,
    "ReleasedStockShipped": released_shipped,
    "TransferDispatched": transfer_dispatched,
    "TransferExpected": transfer_expected,
    "TransferReceived": transfer_received,
    "ThresholdSet": threshold_set,
    "LowStock": low_stock,
    "StockReplenished": replenished,
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
    # The ledger enters the same events, keyed by (item, version): entered once.
    moves = [move for row in changed.values() for move in row.pop("_moves", ())]
    rows.insert_new(conn, "stock_ledger", LEDGER, moves)


PROJECTION = Projection(
    name="inventory",
    topics=(topics.events("inventory"),),
    group="oms-projection-inventory",
    migrations=("001_inventory.sql", "007_stock_ledger.sql", "019_inventory_business_days.sql"),
    events=frozenset(HANDLERS),
    write=write,
    # The payload's ids (order, reservation, return, transfer) only become the
    # ledger's text reference: no UUID object needed.
    text_uuids=True,
)
