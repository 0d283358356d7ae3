"""``oms forecast``: run the demand forecast into ``demand_forecast`` (shown by
``low_stock``), and how good it is on the shop's own history."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from oms_events.analytics.calendar import set_timezone
from oms_events.analytics.forecast import (
    MIN_SEASONAL_DAYS,
    backtest,
    demand_history,
    run_forecast,
)
from oms_events.cli.errors import one_line_errors
from oms_events.cli.order import language
from oms_events.cli.project import SCHEMA, schema_or_setting
from oms_events.projection.runner import connect
from oms_events.settings import get_settings

app = typer.Typer(
    help="Demand forecast per sku and location (Holt-Winters, weekly season).\n\n"
    "Example: oms forecast run && oms forecast backtest --horizon 14 --folds 4",
    no_args_is_help=True,
)
out = Console()


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.1f}%"


RAN = {
    "en": "demand_forecast: {items} item(s) forecast, {reorder} to reorder "
    "(SELECT * FROM low_stock shows the low ones)",
    "zh": "demand_forecast：已预测 {items} 个库存项，{reorder} 个需补货"
    "（SELECT * FROM low_stock 查看低库存项）",
}


def forecast_into_table(
    conn: psycopg.Connection[Any], lead_time: float | None = None, now: datetime | None = None
) -> tuple[int, int]:
    """Run the forecast with the settings into ``demand_forecast``: (items, to reorder).
    ``oms forecast run`` and the report scheduler's cron both call this."""
    settings = get_settings()
    a = settings.analytics
    set_timezone(conn, a.timezone)
    rows = run_forecast(
        conn,
        settings.stock.lead_time_days if lead_time is None else lead_time,
        settings.stock.safety_days,
        a.timezone,
        a.forecast_history_days,
        now or datetime.now(UTC),
    )
    return len(rows), sum(r["suggested"] > 0 for r in rows)


@app.command("run")
@one_line_errors
def run_command(
    lead_time: Annotated[
        float | None,
        typer.Option(
            "--lead-time",
            min=0.1,
            help="Days to replenish (default: OMS_STOCK_LEAD_TIME_DAYS).",
            show_default=False,
        ),
    ] = None,
    schema: str | None = SCHEMA,
) -> None:
    """Forecast every sku and location and replace the demand_forecast table with the
    forecast and the replenishment it suggests (forecast over the lead time + safety
    stock - available - in transit); the low_stock view shows it. oms report schedule
    runs this on OMS_ANALYTICS_FORECAST_SCHEDULE.

    Example: oms forecast run --lead-time 10 && psql -c 'SELECT * FROM low_stock'
    """
    settings = get_settings()
    with connect(
        settings.postgres.dsn, schema_or_setting(schema), "oms-forecast", create=False
    ) as conn:
        items, reorder = forecast_into_table(conn, lead_time)
    out.print(RAN[language()].format(items=items, reorder=reorder))


@app.command("backtest")
@one_line_errors
def backtest_command(
    horizon: Annotated[int, typer.Option(min=1, help="Days forecast per fold.")] = 14,
    folds: Annotated[int, typer.Option(min=1, help="Rolling origins pooled.")] = 4,
    days: Annotated[
        int | None,
        typer.Option(
            min=MIN_SEASONAL_DAYS,
            help="Days of history read (default: OMS_ANALYTICS_FORECAST_HISTORY_DAYS).",
            show_default=False,
        ),
    ] = None,
    sku: Annotated[str | None, typer.Option(help="Only this sku.")] = None,
    schema: str | None = SCHEMA,
) -> None:
    """Forecast the last --folds x --horizon days from the days before them and print
    MAPE and WAPE of the forecast against seasonal-naive (last week repeated), per sku
    and location and pooled. Items whose history is too short are left out.

    Example: oms forecast backtest --sku SKU-TEA-001 --horizon 7
    """
    settings = get_settings()
    a = settings.analytics
    with connect(
        settings.postgres.dsn, schema_or_setting(schema), "oms-forecast", create=False
    ) as conn:
        history = demand_history(conn, a.timezone, days or a.forecast_history_days)
    table = Table(title=f"Backtest: {folds} x {horizon} days, business days in {a.timezone}")
    for column in ("sku", "location", "units", "MAPE", "WAPE", "naive MAPE", "naive WAPE"):
        table.add_column(column, justify="left" if column in ("sku", "location") else "right")
    units = error = naive_error = 0.0
    tested = 0
    for (item_sku, location), series in sorted(history.items()):
        if sku is not None and item_sku != sku:
            continue
        result = backtest(series, horizon, folds)
        if result is None:
            continue
        tested += 1
        units += result.actual_units
        error += result.forecast_abs_error
        naive_error += result.naive_abs_error
        table.add_row(
            item_sku, location, f"{result.actual_units:g}",
            _pct(result.forecast.mape), _pct(result.forecast.wape),
            _pct(result.naive.mape), _pct(result.naive.wape),
        )  # fmt: skip
    if not tested:
        out.print(
            f"No item has the {MIN_SEASONAL_DAYS + folds * horizon} days of shipments a "
            "backtest needs; try fewer --folds or a shorter --horizon."
        )
        return
    out.print(table)
    out.print(
        f"pooled over {tested} item(s): WAPE {_pct(error / units if units else math.nan)} "
        f"(seasonal-naive {_pct(naive_error / units if units else math.nan)})"
    )
