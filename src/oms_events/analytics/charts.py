"""The standard charts of the analysts' reports, each written as PNG and SVG.

Each chart reads its own small query over the projections for the report's scope of
business days (``first``..``last``, None = open), so a chart means the same thing in
every report that lists it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from matplotlib.figure import Figure  # a bare Figure draws with Agg: no pyplot, no display

from oms_events.analytics.forecast import stock_cover


@dataclass(frozen=True)
class Scope:
    """What a chart covers: business days first..last (None = open) in ``timezone``."""

    first: date | None
    last: date | None
    timezone: str
    history_days: int


def _scope(column: str) -> str:
    return (
        f"(%(first)s::date IS NULL OR {column} >= %(first)s) "
        f"AND (%(last)s::date IS NULL OR {column} <= %(last)s)"
    )


def _rows(conn: psycopg.Connection[Any], statement: str, scope: Scope) -> list[tuple[Any, ...]]:
    return conn.execute(statement, {"first": scope.first, "last": scope.last}).fetchall()


def daily_sales(conn: psycopg.Connection[Any], scope: Scope, ax: Any) -> None:
    """Net sales per business day and channel (lines), in major units."""
    series: dict[str, dict[date, float]] = defaultdict(dict)
    for day, channel, net in _rows(
        conn,
        "SELECT day, channel, sum(net_amount) / 100.0 FROM daily_sales "
        f"WHERE {_scope('day')} GROUP BY 1, 2 ORDER BY 1",
        scope,
    ):
        series[channel][day] = float(net)
    for channel, points in sorted(series.items()):
        ax.plot(list(points), list(points.values()), marker=".", label=channel)
    ax.tick_params(axis="x", labelrotation=30)  # dates side by side overlap
    ax.set_title("Daily net sales by channel")
    ax.set_ylabel("net sales (major units)")
    if series:  # an empty legend warns
        ax.legend(loc="upper left")


def channel_mix(conn: psycopg.Connection[Any], scope: Scope, ax: Any) -> None:
    """Share of net sales per channel (pie)."""
    rows = _rows(
        conn,
        f"SELECT channel, sum(net_amount) FROM daily_sales WHERE {_scope('day')} "
        "GROUP BY 1 ORDER BY 2 DESC",
        scope,
    )
    if rows:
        ax.pie([float(r[1]) for r in rows], labels=[r[0] for r in rows], autopct="%1.0f%%")
    ax.set_title("Channel mix (net sales)")


def _histogram(
    conn: psycopg.Connection[Any], scope: Scope, ax: Any, column: str, title: str
) -> None:
    values = [
        float(r[0])
        for r in _rows(
            conn,
            f"SELECT {column} FROM fulfilment_times WHERE {column} IS NOT NULL AND {_scope('day')}",
            scope,
        )
    ]
    ax.hist(values, bins=24)
    ax.set_title(title)
    ax.set_xlabel("hours")
    ax.set_ylabel("lines")


def fulfilment_times(conn: psycopg.Connection[Any], scope: Scope, ax: Any) -> None:
    """Distribution of hours from placement to shipping."""
    _histogram(conn, scope, ax, "hours_to_ship", "Hours from order to shipping")


def delivery_times(conn: psycopg.Connection[Any], scope: Scope, ax: Any) -> None:
    """Distribution of hours from placement to delivery."""
    _histogram(conn, scope, ax, "hours_to_deliver", "Hours from order to delivery")


def return_rates(conn: psycopg.Connection[Any], scope: Scope, ax: Any) -> None:
    """Returned units over shipped units per channel (all time: return_reason_rate)."""
    rows = _rows(
        conn,
        "WITH r AS (SELECT channel, sum(returned_units) AS units FROM return_reason_rate "
        "GROUP BY 1), s AS (SELECT channel, sum(quantity) AS units FROM fact_order_line "
        "WHERE shipped_at IS NOT NULL GROUP BY 1) "
        "SELECT s.channel, coalesce(r.units, 0)::numeric / s.units FROM s "
        "LEFT JOIN r USING (channel) WHERE s.units > 0 ORDER BY 1",
        scope,
    )
    ax.bar([r[0] for r in rows], [100 * float(r[1]) for r in rows])
    ax.set_title("Return rate by channel")
    ax.set_ylabel("% of shipped units")


def exceptions_by_kind(conn: psycopg.Connection[Any], scope: Scope, ax: Any) -> None:
    """Exceptions per kind in the scope (horizontal bars)."""
    rows = _rows(
        conn,
        "SELECT kind, count(*) FROM (SELECT kind, (occurred_at AT TIME ZONE "
        "(SELECT timezone FROM business_calendar))::date AS day "
        f"FROM exception) e WHERE {_scope('day')} GROUP BY 1 ORDER BY 2",
        scope,
    )
    ax.barh([r[0] for r in rows], [r[1] for r in rows])
    ax.set_title("Exceptions by kind")
    ax.set_xlabel("exceptions")


def stock_cover_chart(conn: psycopg.Connection[Any], scope: Scope, ax: Any) -> None:
    """Days the available stock lasts at the forecast demand, the 20 shortest items."""
    covers = stock_cover(conn, scope.timezone, scope.history_days)
    covers = [c for c in covers if c[2] is not None][:20]
    ax.barh([f"{sku} @ {location}" for sku, location, _ in covers], [c[2] for c in covers])
    ax.invert_yaxis()
    ax.set_title("Stock cover (days at forecast demand)")
    ax.set_xlabel("days")


CHART_DRAWERS: dict[str, Callable[[psycopg.Connection[Any], Scope, Any], None]] = {
    "daily_sales": daily_sales,
    "channel_mix": channel_mix,
    "fulfilment_times": fulfilment_times,
    "delivery_times": delivery_times,
    "return_rates": return_rates,
    "exceptions_by_kind": exceptions_by_kind,
    "stock_cover": stock_cover_chart,
}


def draw(
    conn: psycopg.Connection[Any], chart: str, scope: Scope, folder: Path, prefix: str
) -> list[Path]:
    """Draw ``chart`` for ``scope`` into ``folder`` as PNG and SVG; the two paths."""
    fig = Figure(figsize=(10, 5.5))
    CHART_DRAWERS[chart](conn, scope, fig.add_subplot())
    return _save(fig, folder / f"{prefix}-{chart}")


def _save(fig: Figure, stem: Path) -> list[Path]:
    """Write ``fig`` as ``stem``.png and ``stem``.svg; the two paths."""
    fig.tight_layout()
    paths = [stem.with_name(f"{stem.name}.{ext}") for ext in ("png", "svg")]
    for path in paths:
        fig.savefig(path)
    return paths


def whatif_chart(
    figures: Sequence[tuple[str, float, float]], folder: Path, prefix: str
) -> list[Path]:
    """A what-if's figures, actual beside what-if, one small panel per metric (their
    scales differ: orders by the dozen, kilometres by the thousand); PNG and SVG."""
    columns = 5
    rows = max(1, -(-len(figures) // columns))
    fig = Figure(figsize=(2.4 * columns, 2.6 * rows))
    for n, (label, actual, whatif) in enumerate(figures):
        ax = fig.add_subplot(rows, columns, n + 1)
        bars = ax.bar(["actual", "what-if"], [actual, whatif], color=["#8c8c8c", "#1f77b4"])
        ax.bar_label(bars, fmt="%g", fontsize=8)
        ax.set_ylim(0, max(actual, whatif, 1) * 1.15)  # a zero pair keeps a zero baseline
        ax.set_title(label, fontsize=9)
        ax.tick_params(labelsize=8)
    return _save(fig, folder / f"{prefix}-whatif")
