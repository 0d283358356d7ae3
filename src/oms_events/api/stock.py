"""Stock per sku across locations, with available-to-promise (the check a channel makes
before it submits), and what is running low (the inventory projection)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from oms_events.api.access import allow
from oms_events.api.roles import Permission
from oms_events.api.services import Services, services
from oms_events.api.users import User

router = APIRouter(tags=["stock"])
_READ = Depends(allow(Permission.stock_read))


class Level(BaseModel):
    """Stock of a sku at one location."""

    location: str
    on_hand: int
    reserved: int
    available: int = Field(description="on_hand - reserved (negative when oversold)")
    in_transit: int = Field(description="Units on their way by transfers")
    low_stock_threshold: int


class SkuStock(BaseModel):
    """A sku everywhere."""

    sku: str
    available_to_promise: int = Field(
        description="Units that can be sold now: the sum of each location's available, "
        "negatives counted as 0"
    )
    locations: list[Level]


class StockAnswer(BaseModel):
    """GET /stock."""

    items: list[SkuStock]


class LowItem(BaseModel):
    """A sku below its low-stock threshold at a location."""

    sku: str
    location: str
    available: int
    in_transit: int
    low_stock_threshold: int
    low_since: datetime | None
    suggested_replenishment: int | None = Field(
        description="Units the demand forecast suggests ordering"
    )
    daily_forecast: Decimal | None


class LowAnswer(BaseModel):
    """GET /stock/low."""

    items: list[LowItem]


@router.get("/stock", response_model=StockAnswer, summary="Stock and available-to-promise per sku")
def stock(
    api: Annotated[Services, Depends(services)],
    _: Annotated[User, _READ],
    sku: Annotated[
        list[str] | None, Query(description="Skus to look up (repeat); none: every sku")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> StockAnswer:
    """Each sku's levels at every location and its available-to-promise."""
    rows = api.db.rows(
        "SELECT sku, location, on_hand, reserved, available, in_transit, low_stock_threshold "
        "FROM inventory_level WHERE (%(skus)s::text[] IS NULL OR sku = ANY(%(skus)s)) "
        "ORDER BY sku, location",
        skus=sku or None,
    )
    items: dict[str, SkuStock] = {}
    for r in rows:
        item = items.setdefault(
            r["sku"], SkuStock(sku=r["sku"], available_to_promise=0, locations=[])
        )
        item.locations.append(Level(**{k: v for k, v in r.items() if k != "sku"}))
        item.available_to_promise += max(r["available"], 0)
    return StockAnswer(items=list(items.values())[:limit])


@router.get("/stock/low", response_model=LowAnswer, summary="Stock below its threshold")
def low(
    api: Annotated[Services, Depends(services)],
    _: Annotated[User, _READ],
) -> LowAnswer:
    """Every sku and location below its low-stock threshold, lowest cover first."""
    rows = api.db.rows(
        "SELECT sku, location, available, in_transit, low_stock_threshold, low_since, "
        "suggested_replenishment, daily_forecast FROM low_stock "
        "ORDER BY available - low_stock_threshold, sku, location"
    )
    return LowAnswer(items=[LowItem(**r) for r in rows])
