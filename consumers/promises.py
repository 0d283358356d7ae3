"""What an order's delivery speed promises: time to allocate, to ship, to deliver.

Shared by the tracking projection (promised dates) and the exceptions projection
(late allocation or shipment), so both judge an order by the same clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

# speed -> (allocate within, ship within, deliver within), counted from placement.
PROMISES: dict[str, tuple[timedelta, timedelta, timedelta]] = {
    "standard": (timedelta(hours=24), timedelta(hours=48), timedelta(days=5)),
    "express": (timedelta(hours=6), timedelta(hours=24), timedelta(days=2)),
    "next_day": (timedelta(hours=4), timedelta(hours=12), timedelta(days=1)),
    "same_day": (timedelta(hours=1), timedelta(hours=4), timedelta(hours=12)),
}


def deadlines(placed_at: datetime, speed: str) -> tuple[datetime, datetime, datetime]:
    """(allocate by, ship by, deliver by) for an order placed at ``placed_at``."""
    allocate, ship, deliver = PROMISES.get(speed, PROMISES["standard"])
    return placed_at + allocate, placed_at + ship, placed_at + deliver
