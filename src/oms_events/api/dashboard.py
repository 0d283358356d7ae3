"""The numbers behind the console's dashboard: orders per channel today, fulfilment
times, open exceptions (the tracking and analytics projections)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from oms_events.api.access import allow
from oms_events.api.exceptions import OPEN
from oms_events.api.roles import Permission
from oms_events.api.services import Services, services
from oms_events.api.users import User

router = APIRouter(tags=["dashboard"])


class Hours(BaseModel):
    """Hours from placing to shipping, over the last 30 days' shipped lines."""

    p50: float | None
    p90: float | None


class Dashboard(BaseModel):
    """GET /dashboard."""

    orders_per_channel_today: dict[str, int] = Field(
        description="Orders placed today (the shop's business day, analytics.timezone) per channel"
    )
    fulfilment_hours: Hours
    exceptions_open: int


@router.get("/dashboard", response_model=Dashboard, summary="The dashboard's numbers")
def dashboard(
    api: Annotated[Services, Depends(services)],
    _: Annotated[User, Depends(allow(Permission.dashboard_read))],
) -> Dashboard:
    """Orders per channel today, fulfilment hours (p50, p90), exceptions open."""
    timezone = api.settings.analytics.timezone
    per_channel = api.db.rows(
        "SELECT channel, count(*) AS n FROM order_tracking "
        "WHERE (placed_at AT TIME ZONE %(tz)s)::date = (now() AT TIME ZONE %(tz)s)::date "
        "GROUP BY channel ORDER BY channel",
        tz=timezone,
    )
    hours = api.db.row(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY hours_to_ship) AS p50, "
        "percentile_cont(0.9) WITHIN GROUP (ORDER BY hours_to_ship) AS p90 "
        "FROM fulfilment_times WHERE hours_to_ship IS NOT NULL "
        "AND placed_at > now() - interval '30 days'"
    )
    exceptions = api.db.row(f"SELECT count(*) AS n FROM exception e WHERE {OPEN}")
    return Dashboard(
        orders_per_channel_today={r["channel"]: r["n"] for r in per_channel},
        fulfilment_hours=Hours(
            p50=None if hours is None or hours["p50"] is None else round(float(hours["p50"]), 2),
            p90=None if hours is None or hours["p90"] is None else round(float(hours["p90"]), 2),
        ),
        exceptions_open=exceptions["n"] if exceptions else 0,
    )
