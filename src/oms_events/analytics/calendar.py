"""The shop's business day in PostgreSQL: one-row calendar tables that every daily view
and report reads.

Each projection with daily views has its own (analytics ``business_calendar``, 015;
inventory ``inventory_calendar``, 019; payments ``payment_calendar``, 020) rather than
sharing one: a replay swaps a projection's tables in with ``DROP ... CASCADE``, which
would take the other projections' views reading a shared table along. They are all
written here, from the one setting, so they never disagree.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

CALENDARS = ("business_calendar", "inventory_calendar", "payment_calendar")


def set_timezone(conn: psycopg.Connection[Any], timezone: str) -> bool:
    """Make ``timezone`` the business time zone of every calendar the schema holds; True
    when one changed (False also when the schema has none of the projections).

    Called from settings by ``oms db migrate``, ``oms replay`` (a rebuild brings the
    migration's default row) and before every report, so plain SQL in psql sees the
    same days as the reports.
    """
    changed = False
    for table in CALENDARS:
        found = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
        if not (found and found[0]):
            continue
        cur = conn.execute(
            sql.SQL("UPDATE {} SET timezone = %s WHERE timezone IS DISTINCT FROM %s").format(
                sql.Identifier(table)
            ),
            (timezone, timezone),
        )
        changed = changed or cur.rowcount > 0
    return changed


def business_today(now: datetime, timezone: str) -> date:
    """The business day ``now`` (an aware instant) falls on."""
    return now.astimezone(ZoneInfo(timezone)).date()
