"""Stock read from the inventory projection: levels per location and where a transfer is
going (``oms stock show``, ``transfer-receive``); what to reorder is forecast by
``oms_events.analytics.forecast.suggestions`` (``oms stock suggest``)."""

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
