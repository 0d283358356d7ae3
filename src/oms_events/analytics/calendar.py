"""The shop's business day in PostgreSQL: the one-row ``business_calendar`` table that the
SQL function ``business_day(timestamptz)`` and every daily view read (015_business_days.sql).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg


def set_timezone(conn: psycopg.Connection[Any], timezone: str) -> bool:
    """Make ``timezone`` the schema's business time zone; True when it changed.

    Called from settings by ``oms db migrate`` and before every report, so plain SQL in
    psql sees the same days as the reports.
    """
    cur = conn.execute(
        "UPDATE business_calendar SET timezone = %s WHERE timezone IS DISTINCT FROM %s",
        (timezone, timezone),
    )
    return cur.rowcount > 0


def business_today(now: datetime, timezone: str) -> date:
    """The business day ``now`` (an aware instant) falls on."""
    return now.astimezone(ZoneInfo(timezone)).date()
