"""Demand forecast per sku and location, its backtest, and the replenishment it suggests.

Demand is units shipped per business day (the stock ledger's ``shipped`` movements,
bucketed in the shop's time zone). A history of at least ``MIN_SEASONAL_DAYS`` is
forecast with Holt-Winters (statsmodels ``ExponentialSmoothing``: additive level and
weekly season); shorter histories fall back to their daily average, as before.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import psycopg

SEASON = 7  # days: the weekly rhythm of orders
MIN_SEASONAL_DAYS = 4 * SEASON  # fewer weeks than this cannot estimate a season
AVERAGE_DAYS = 28  # the fallback's window


@dataclass(frozen=True)
class Forecast:
    """Expected units per day for the next days, and how it was made."""

    per_day: tuple[float, ...]
    method: str  # "holt-winters", "average" or "none" (nothing ever shipped)

    def total(self, days: float) -> float:
        """Units expected over ``days`` (fractional days count pro rata)."""
        whole = int(days)
        extra = days - whole
        values = list(self.per_day) + [self.per_day[-1] if self.per_day else 0.0] * (
            whole + 1 - len(self.per_day)
        )
        return float(sum(values[:whole]) + extra * values[whole])


def holt_winters(history: np.ndarray, horizon: int) -> np.ndarray:
    """Holt-Winters forecast of ``horizon`` days (additive weekly season, no trend),
    never below zero."""
    # Imported here: statsmodels and scipy take ~1.5 s to import, which every `oms`
    # command would pay since the CLI imports all its modules.
    from statsmodels.tools.sm_exceptions import ConvergenceWarning
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    with warnings.catch_warnings():
        # Short, flat or intermittent series warn about convergence; the fit is still
        # the best statsmodels found, and the backtest is the judge of its quality.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        model = ExponentialSmoothing(
            history.astype(float),
            trend=None,
            seasonal="add",
            seasonal_periods=SEASON,
            initialization_method="estimated",
        ).fit()
    predicted: np.ndarray = np.clip(np.asarray(model.forecast(horizon), dtype=float), 0.0, None)
    return predicted


def seasonal_naive(history: np.ndarray, horizon: int) -> np.ndarray:
    """The same weekday of the last week, repeated: the baseline a forecast must beat."""
    last = history[-SEASON:].astype(float)
    return np.array([last[i % SEASON] for i in range(horizon)])


def forecast(history: np.ndarray, horizon: int) -> Forecast:
    """Forecast ``horizon`` days from a daily history (oldest first, ending yesterday)."""
    history = np.trim_zeros(np.asarray(history, dtype=float), "f")  # before the first sale
    if history.size == 0 or not history.any():
        return Forecast((0.0,) * horizon, "none")
    if history.size >= MIN_SEASONAL_DAYS:
        return Forecast(tuple(float(x) for x in holt_winters(history, horizon)), "holt-winters")
    window = history[-AVERAGE_DAYS:]
    return Forecast((float(window.sum()) / AVERAGE_DAYS,) * horizon, "average")


@dataclass(frozen=True)
class Accuracy:
    """Errors of a forecast over a holdout: MAPE (days with demand) and WAPE."""

    mape: float
    wape: float


def accuracy(actual: np.ndarray, predicted: np.ndarray) -> Accuracy:
    """MAPE over days with demand (nan when none) and WAPE = sum |error| / sum actual."""
    actual = np.asarray(actual, dtype=float)
    error = np.abs(actual - np.asarray(predicted, dtype=float))
    sold = actual != 0
    mape = float(np.mean(error[sold] / np.abs(actual[sold]))) if sold.any() else math.nan
    total = float(np.abs(actual).sum())
    wape = float(error.sum()) / total if total else math.nan
    return Accuracy(mape, wape)


@dataclass(frozen=True)
class Backtest:
    """One series' backtest: the forecast's and seasonal-naive's errors."""

    forecast: Accuracy
    naive: Accuracy
    actual_units: float
    forecast_abs_error: float
    naive_abs_error: float


def backtest(history: np.ndarray, horizon: int, folds: int = 4) -> Backtest | None:
    """Rolling-origin backtest: ``folds`` times, forecast the next ``horizon`` days from
    the days before them and compare with seasonal-naive, errors pooled over the folds.
    None when the first fold's history is too short to fit a season."""
    history = np.trim_zeros(np.asarray(history, dtype=float), "f")
    first_cut = history.size - folds * horizon
    if first_cut < MIN_SEASONAL_DAYS:
        return None
    actual, predicted, naive = [], [], []
    for k in range(folds):
        cut = first_cut + k * horizon
        train = history[:cut]
        actual.append(history[cut : cut + horizon])
        predicted.append(np.array(forecast(train, horizon).per_day))
        naive.append(seasonal_naive(train, horizon))
    a, p, n = np.concatenate(actual), np.concatenate(predicted), np.concatenate(naive)
    return Backtest(
        accuracy(a, p),
        accuracy(a, n),
        float(a.sum()),
        float(np.abs(a - p).sum()),
        float(np.abs(a - n).sum()),
    )


# Units shipped per sku, location and business day, from the stock ledger (a shipment
# lowers on hand: the units are -on_hand_delta). The zone is the settings' (a parameter),
# so this works on the inventory projection alone.
_SHIPPED = """
SELECT sku, location, (occurred_at AT TIME ZONE %(tz)s)::date AS day,
       sum(-on_hand_delta)::bigint AS units
FROM stock_ledger
WHERE movement = 'shipped'
  AND (occurred_at AT TIME ZONE %(tz)s)::date >= %(first)s
  AND (occurred_at AT TIME ZONE %(tz)s)::date < %(today)s
GROUP BY 1, 2, 3
"""

# The projection's own clock (its newest event), so an as-of copy answers as of then.
_TODAY = "SELECT (coalesce(max(updated_at), now()) AT TIME ZONE %(tz)s)::date FROM inventory_level"


def demand_today(conn: psycopg.Connection[Any], timezone: str) -> date:
    """The business day of the inventory projection's newest event (now when empty)."""
    row = conn.execute(_TODAY, {"tz": timezone}).fetchone()
    assert row is not None  # an aggregate without GROUP BY always answers one row
    return row[0]  # type: ignore[no-any-return]


def demand_history(
    conn: psycopg.Connection[Any], timezone: str, days: int, today: date | None = None
) -> dict[tuple[str, str], np.ndarray]:
    """Units shipped per day for every (sku, location) that shipped in the ``days``
    business days before ``today`` (default: the projection's clock); oldest first."""
    today = today or demand_today(conn, timezone)
    first = today - timedelta(days=days)
    series: dict[tuple[str, str], np.ndarray] = defaultdict(lambda: np.zeros(days))
    for sku, location, day, units in conn.execute(
        _SHIPPED, {"tz": timezone, "first": first, "today": today}
    ):
        series[(sku, location)][(day - first).days] = units
    return dict(series)


_ITEMS = """
SELECT sku, location, on_hand, reserved, available, in_transit, low_stock_threshold
FROM inventory_level ORDER BY sku, location
"""


def suggestions(
    conn: psycopg.Connection[Any],
    lead: float,
    safety_days: float,
    timezone: str,
    history_days: int,
) -> list[dict[str, Any]]:
    """Every item's replenishment: forecast over the lead time + safety stock -
    available - in transit, never negative; largest first.

    Safety stock is ``safety_days`` of forecast demand, at least the item's low-stock
    threshold. Available, not on hand: reserved units are promised to orders already
    placed, so they are demand on top of the forecast, not supply.
    """
    history = demand_history(conn, timezone, history_days)
    horizon = math.ceil(lead + safety_days) + 1
    out: list[dict[str, Any]] = []
    with conn.cursor() as cur:
        items = cur.execute(_ITEMS).fetchall()
    for sku, location, on_hand, reserved, available, in_transit, threshold in items:
        f = forecast(history.get((sku, location), np.zeros(0)), horizon)
        over_lead = f.total(lead)
        per_day = over_lead / lead
        safety = max(threshold, math.ceil(per_day * safety_days))
        lead_demand = math.ceil(over_lead)  # whole units: a part of one is still one
        suggested = max(lead_demand + safety - available - in_transit, 0)
        out.append(
            {
                "sku": sku,
                "location": location,
                "method": f.method,
                "daily_sales": round(per_day, 2),
                "lead_time_days": lead,
                "lead_time_demand": lead_demand,
                "on_hand": on_hand,
                "reserved": reserved,
                "available": available,
                "in_transit": in_transit,
                "safety_stock": safety,
                "suggested": suggested,
            }
        )
    out.sort(key=lambda r: (-r["suggested"], r["sku"], r["location"]))
    return out


_STORED = (
    "sku", "location", "method", "daily_forecast", "lead_time_days", "lead_time_demand",
    "safety_stock", "available", "in_transit", "suggested", "computed_at",
)  # fmt: skip


def forecast_rows(suggested: list[dict[str, Any]], computed_at: datetime) -> list[tuple[Any, ...]]:
    """The ``demand_forecast`` rows (columns in ``_STORED`` order) of ``suggestions()``."""
    renamed = {"daily_forecast": "daily_sales"}
    return [
        tuple(computed_at if c == "computed_at" else r[renamed.get(c, c)] for c in _STORED)
        for r in suggested
    ]


def run_forecast(
    conn: psycopg.Connection[Any],
    lead: float,
    safety_days: float,
    timezone: str,
    history_days: int,
    computed_at: datetime,
) -> list[dict[str, Any]]:
    """Forecast every item and replace the ``demand_forecast`` table (018) with the
    results in one transaction, so ``low_stock`` shows the suggestions of one run;
    returns them as :func:`suggestions` does."""
    suggested = suggestions(conn, lead, safety_days, timezone, history_days)
    with conn.transaction(), conn.cursor() as cur:
        # DELETE, not TRUNCATE: readers of low_stock keep seeing the previous run until
        # this one commits, and an item no longer stocked does not linger.
        cur.execute("DELETE FROM demand_forecast")
        cur.executemany(
            f"INSERT INTO demand_forecast ({', '.join(_STORED)}) "
            f"VALUES ({', '.join(['%s'] * len(_STORED))})",
            forecast_rows(suggested, computed_at),
        )
    return suggested


def stock_cover(
    conn: psycopg.Connection[Any], timezone: str, history_days: int
) -> list[tuple[str, str, float | None]]:
    """(sku, location, days the available stock lasts at the forecast demand), shortest
    first; None when no demand is forecast."""
    covers: list[tuple[str, str, float | None]] = []
    for r in suggestions(conn, 28.0, 0.0, timezone, history_days):
        per_day = r["daily_sales"]
        cover = round(max(r["available"], 0) / per_day, 1) if per_day > 0 else None
        covers.append((r["sku"], r["location"], cover))
    covers.sort(key=lambda c: (c[2] is None, c[2] or 0.0))
    return covers
