"""Stock read from the inventory projection: levels per location, where a transfer is
going, and what to reorder (``oms stock show``, ``transfer-receive``, ``suggest``)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

_LEVELS = (
    "SELECT location, on_hand, reserved, available, in_transit, low_stock_threshold, low_since "
    "FROM inventory_level WHERE sku = %s ORDER BY location"
)


def stock_levels(conn: psycopg.Connection[Any], sku: str) -> list[dict[str, Any]]:
    """Every location's level of ``sku``: on hand, reserved, available, in transit,
    threshold and since when it is low."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(_LEVELS, (sku,)).fetchall()


def transfer_destination(
    conn: psycopg.Connection[Any], transfer_id: UUID
) -> tuple[str, str] | None:
    """(sku, location) a transfer is in transit to, from the stock ledger; None if unknown."""
    row = conn.execute(
        "SELECT sku, location FROM stock_ledger "
        "WHERE reference = %s AND movement = 'transfer_expected'",
        (str(transfer_id),),
    ).fetchone()
    return None if row is None else (row[0], row[1])


# Per sku and location: average units shipped per day over the window (up to the newest
# event, so a point-in-time copy answers as of its instant) x lead time + safety stock -
# (available + in transit). Available, not on hand: reserved units are already promised
# to orders placed, so they are demand on top of the history, not supply.
_SUGGEST = """
WITH clock AS (
    SELECT coalesce(max(updated_at), now())::date AS today FROM inventory_level
), sales AS (
    SELECT d.item_id, sum(d.units)::numeric / %(days)s AS per_day
    FROM inventory_sales_daily d, clock
    WHERE d.day > clock.today - %(days)s AND d.day <= clock.today
    GROUP BY d.item_id
), need AS (
    SELECT l.sku, l.location, coalesce(s.per_day, 0) AS per_day, l.on_hand, l.reserved,
           l.available, l.in_transit,
           greatest(l.low_stock_threshold, ceil(coalesce(s.per_day, 0) * %(safety)s))::bigint
               AS safety_stock
    FROM inventory_level l LEFT JOIN sales s USING (item_id)
)
SELECT sku, location, round(per_day, 2) AS daily_sales, on_hand, reserved, available,
       in_transit, safety_stock,
       greatest(ceil(per_day * %(lead)s) + safety_stock - available - in_transit, 0)::bigint
           AS suggested
FROM need
ORDER BY suggested DESC, sku, location
"""


def suggestions(
    conn: psycopg.Connection[Any], days: int, lead: float, safety: float
) -> list[dict[str, Any]]:
    """Every item's replenishment suggestion (see _SUGGEST), largest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows: list[dict[str, Any]] = cur.execute(
            _SUGGEST, {"days": days, "lead": lead, "safety": safety}
        ).fetchall()
    return rows
