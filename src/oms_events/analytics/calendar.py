"""The shop's business day in PostgreSQL: the one-row ``business_calendar`` table that
every daily view and report reads (015_business_days.sql)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg


def set_timezone(conn: psycopg.Connection[Any], timezone: str) -> bool:
    """Make ``timezone`` the schema's business time zone; True when it changed (False
    also when the schema has no calendar, i.e. no analytics projection).

    Called from settings by ``oms db migrate``, ``oms replay`` (a rebuild brings the
    migration's default row) and before every report, so plain SQL in psql sees the
    same days as the reports.
    """
    found = conn.execute("SELECT to_regclass('business_calendar') IS NOT NULL").fetchone()
    if not (found and found[0]):
        return False
    cur = conn.execute(
        "UPDATE business_calendar SET timezone = %s WHERE timezone IS DISTINCT FROM %s",
        (timezone, timezone),
    )
    return cur.rowcount > 0


def business_today(now: datetime, timezone: str) -> date:
    """The business day ``now`` (an aware instant) falls on."""
    return now.astimezone(ZoneInfo(timezone)).date()
