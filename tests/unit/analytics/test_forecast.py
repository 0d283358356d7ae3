"""The demand forecast beats seasonal-naive on a noisy weekly series, and the fallback
for short histories is the daily average."""

from __future__ import annotations

import numpy as np
import pytest

from oms_events.analytics.forecast import (
    MIN_SEASONAL_DAYS,
    accuracy,
    backtest,
    forecast,
)

WEEK = np.array([20.0, 18.0, 19.0, 22.0, 30.0, 45.0, 40.0])  # weekend peak


def series(days: int, seed: int) -> np.ndarray:
    """A weekly pattern with noise (sd 4 units a day), never negative."""
    rng = np.random.default_rng(seed)
    return np.clip(np.resize(WEEK, days) + rng.normal(0.0, 4.0, days), 0, None).round()


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_holt_winters_beats_seasonal_naive_on_a_noisy_weekly_series(seed: int) -> None:
    result = backtest(series(16 * 7, seed), horizon=14)
    assert result is not None
    # Seasonal-naive copies last week's noise; the smoothed season averages it out.
    assert result.forecast.wape < result.naive.wape
    assert result.forecast.mape < result.naive.mape
    assert result.forecast.wape < 0.15


def test_a_short_history_falls_back_to_the_28_day_average() -> None:
    history = np.array([0, 0, 3, 0, 4, 7], dtype=float)
    f = forecast(history, 5)
    assert f.method == "average"
    assert f.per_day == pytest.approx((14 / 28,) * 5)


def test_a_long_history_is_forecast_with_its_weekly_season() -> None:
    f = forecast(np.resize(WEEK, MIN_SEASONAL_DAYS + 7), 7)
    assert f.method == "holt-winters"
    # Saturday (the 6th weekday of the pattern) stays the peak of the week forecast.
    assert int(np.argmax(f.per_day)) == int(np.argmax(np.resize(WEEK, MIN_SEASONAL_DAYS + 14)[-7:]))


def test_nothing_ever_shipped_forecasts_nothing() -> None:
    assert forecast(np.zeros(60), 3).method == "none"
    assert forecast(np.zeros(60), 3).total(2.5) == 0


def test_total_counts_a_fractional_day_pro_rata() -> None:
    f = forecast(np.array([7.0] * 10), 3)  # average: 70 / 28 = 2.5 a day
    assert f.total(2.5) == pytest.approx(6.25)


def test_mape_skips_days_without_demand_and_wape_weighs_by_volume() -> None:
    a = accuracy(np.array([0.0, 10.0, 30.0]), np.array([2.0, 5.0, 30.0]))
    assert a.mape == pytest.approx(0.25)  # (0.5 + 0) / 2
    assert a.wape == pytest.approx(7 / 40)


def test_a_history_too_short_for_a_season_has_no_backtest() -> None:
    assert backtest(series(MIN_SEASONAL_DAYS + 4 * 14 - 1, 1), horizon=14) is None
    assert backtest(series(MIN_SEASONAL_DAYS + 4 * 14, 1), horizon=14) is not None
