"""The forecast run's rows for demand_forecast: every column of 018_demand_forecast.sql,
filled from the suggestion, and the schedule setting that runs it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from oms_events.analytics.forecast import _STORED, forecast_rows
from oms_events.settings import AnalyticsSettings

SQL = Path(__file__).resolve().parents[3] / "projections" / "018_demand_forecast.sql"
AT = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
SUGGESTION = {
    "sku": "TEA", "location": "WH-SH", "method": "holt-winters", "daily_sales": 6.43,
    "lead_time_days": 7.0, "lead_time_demand": 45, "on_hand": 40, "reserved": 2,
    "available": 38, "in_transit": 5, "safety_stock": 50, "suggested": 52,
}  # fmt: skip


def test_the_stored_columns_are_the_tables_columns() -> None:
    table = SQL.read_text()
    body = table[table.index("(") : table.index("PRIMARY KEY")]
    columns = re.findall(r"^\s+(\w+)\s", body, re.M)
    assert list(_STORED) == columns


def test_a_suggestion_becomes_one_row_with_its_daily_forecast_and_time() -> None:
    (row,) = forecast_rows([SUGGESTION], AT)
    stored = dict(zip(_STORED, row, strict=True))
    assert stored["daily_forecast"] == 6.43
    assert stored["suggested"] == 52
    assert stored["lead_time_days"] == 7.0
    assert stored["computed_at"] == AT
    assert (stored["sku"], stored["location"], stored["method"]) == ("TEA", "WH-SH", "holt-winters")


def test_the_forecast_schedule_is_a_cron_expression_or_off() -> None:
    assert AnalyticsSettings(forecast_schedule="30 5 * * *").forecast_schedule == "30 5 * * *"
    assert AnalyticsSettings(forecast_schedule="").forecast_schedule is None
    with pytest.raises(ValidationError, match="not a cron expression"):
        AnalyticsSettings(forecast_schedule="every morning")
