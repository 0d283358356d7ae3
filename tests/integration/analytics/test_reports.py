"""Reports, exports, charts and forecasts on real PostgreSQL: facts filled with plain
INSERTs in a schema of their own (no engine), every report's totals checked against a
plain SQL over the same facts."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from psycopg import sql

from oms_events.analytics.calendar import set_timezone
from oms_events.analytics.forecast import run_forecast, suggestions
from oms_events.analytics.reports import ReportDefinition, parse_definitions, run_query
from oms_events.analytics.runs import run_report
from oms_events.projection.migrate import migrate
from oms_events.projection.registry import select
from oms_events.projection.runner import connect
from oms_events.settings import Settings

DOC = Path(__file__).resolve().parents[3] / "docs" / "analysts.md"
ZONE = "Asia/Shanghai"
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: business day 12-01
CHANNELS = ("tmall", "jd", "web")
SKUS = ("TEA", "CUP")
LOCATIONS = ("WH-SH", "WH-BJ")
REGIONS = ("上海", "北京", "广东")
STATUSES = ("open", "shipped", "delivered", "delivered", "cancelled")


def _fill(conn: psycopg.Connection[Any]) -> None:
    """Twenty days of order lines (some cancelled, hours around Shanghai midnight),
    returns, exceptions, stock levels and eight weeks of shipments."""
    n = 0
    for d in range(20):
        for k in range(6):
            n += 1
            placed = datetime(2026, 11, 10, 15, 30, tzinfo=UTC) + timedelta(days=d, hours=k)
            status = STATUSES[n % len(STATUSES)]
            shipped = placed + timedelta(hours=20 + n % 7) if status != "open" else None
            delivered = shipped + timedelta(hours=30 + n % 11) if status == "delivered" else None
            conn.execute(
                "INSERT INTO fact_order_line (order_id, line_no, order_no, channel, region, "
                "sku, quantity, unit_price, discount, net_amount, currency, location, status, "
                "placed_at, confirmed_at, shipped_at, delivered_at, version) VALUES "
                "(%s, 1, %s, %s, %s, %s, %s, %s, %s, %s, 'CNY', %s, %s, %s, %s, %s, %s, 1)",
                (
                    uuid.uuid4(), f"SO{n}", CHANNELS[n % 3], REGIONS[n % 3 if n % 4 else 2],
                    SKUS[n % 2], 1 + n % 3, 2590, 100 * (n % 2), 2590 * (1 + n % 3) - 100 * (n % 2),
                    LOCATIONS[n % 2], status, placed, placed + timedelta(minutes=5), shipped,
                    delivered,
                ),
            )  # fmt: skip
    for i in range(5):
        conn.execute(
            "INSERT INTO return_tracking (return_id, return_no, order_id, channel, status, "
            "reason, refund_only, exchange_lines, lines, currency, worth, requested_at, "
            "location, received_units, restocked_units, written_off_units, version, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, false, '[]', %s, 'CNY', 0, %s, 'WH-SH', 0, 0, 0, "
            "1, %s)",
            (
                uuid.uuid4(), f"RMA{i}", uuid.uuid4(), CHANNELS[i % 3],
                "rejected" if i == 4 else "approved", ("damaged", "wrong_item")[i % 2],
                json.dumps([{"sku": SKUS[i % 2], "quantity": 1 + i}]),
                NOW - timedelta(days=i), NOW,
            ),
        )  # fmt: skip
    for i in range(7):
        conn.execute(
            "INSERT INTO exception (exception_id, kind, location, reason, occurred_at) "
            "VALUES (%s, %s, 'WH-SH', 'test', %s)",
            (f"x{i}", ("late_shipment", "silent_parcel", "payment_failed")[i % 3],
             NOW - timedelta(hours=13 * i)),
        )  # fmt: skip
    # Stock: TEA at WH-SH ships a weekly pattern for eight weeks; CUP only for a week.
    for item, (sku, location, on_hand, threshold) in enumerate(
        [("TEA", "WH-SH", 40, 50), ("CUP", "WH-BJ", 9, 5), ("CUP", "WH-SH", 100, 0)]
    ):
        conn.execute(
            "INSERT INTO inventory_level (item_id, sku, location, on_hand, reserved, "
            "low_stock_threshold, version, updated_at, in_transit) "
            "VALUES (%s, %s, %s, %s, 2, %s, 1, %s, 0)",
            (uuid.UUID(int=item + 1), sku, location, on_hand, threshold, NOW),
        )
    weekly = (4, 3, 3, 5, 8, 12, 10)
    # Up to the last day before NOW (11-30), with a little noise (-1, 0, +1).
    rows = [("TEA", "WH-SH", d, weekly[d % 7] + (d * 5) % 3 - 1) for d in range(57)]
    rows += [("CUP", "WH-BJ", d, 2) for d in range(50, 57)]
    for v, (sku, location, d, units) in enumerate(rows):
        at = datetime(2026, 10, 5, 3, 0, tzinfo=UTC) + timedelta(days=d)
        conn.execute(
            "INSERT INTO stock_ledger (item_id, version, sku, location, movement, "
            "on_hand_delta, reserved_delta, in_transit_delta, event_name, event_topic, "
            "event_partition, event_offset, occurred_at) VALUES "
            "(%s, %s, %s, %s, 'shipped', %s, %s, 0, 'ReservationCommitted', 't', 0, %s, %s)",
            (uuid.uuid4(), v, sku, location, -units, -units, v, at),
        )


@pytest.fixture(scope="module")
def facts(dev_services: Settings) -> Iterator[psycopg.Connection[Any]]:
    """A schema with every projection's tables, filled once for the module."""
    schema = f"t_analytics_{uuid.uuid4().hex[:8]}"
    with connect(dev_services.postgres.dsn, schema, "test-analytics") as conn:
        migrate(conn, schema, select([]))
        with conn.transaction():
            _fill(conn)
        try:
            yield conn
        finally:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def test_days_are_cut_at_midnight_of_the_shops_time_zone(
    facts: psycopg.Connection[Any],
) -> None:
    # SO1 is placed 2026-11-10 15:30 UTC = 23:30 Shanghai; SO2 an hour later = 00:30
    # the next day in Shanghai but still 11-10 in UTC.
    query = "SELECT day FROM fulfilment_times WHERE order_no IN ('SO1', 'SO2') ORDER BY order_no"
    assert facts.execute(query).fetchall() == [(date(2026, 11, 10),), (date(2026, 11, 11),)]
    assert facts.execute(
        "SELECT sum(units) FROM daily_sales WHERE day = '2026-11-10'"
    ).fetchone() == (2,)  # SO1 only (2 units)
    try:
        assert set_timezone(facts, "UTC")
        assert facts.execute(query).fetchall() == [(date(2026, 11, 10),)] * 2
    finally:
        set_timezone(facts, ZONE)


def test_settlement_and_shipments_are_cut_at_midnight_of_the_shops_time_zone(
    facts: psycopg.Connection[Any],
) -> None:
    # A capture and a shipment each at 23:30 and 00:30 Shanghai time, both 11-10 in UTC.
    at = (datetime(2026, 11, 10, 15, 30, tzinfo=UTC), datetime(2026, 11, 10, 16, 30, tzinfo=UTC))
    with facts.transaction():
        for v in (0, 1):
            facts.execute(
                "INSERT INTO payment_ledger (payment_id, version, tender, order_id, order_no, "
                "channel, method, kind, amount, currency, provider_reference, occurred_at) "
                "VALUES (%s, %s, 't1', %s, 'SO-PAY', 'tmall', 'alipay', 'capture', 1000, 'CNY', "
                "'ref', %s)",
                (uuid.UUID(int=99), v, uuid.UUID(int=98), at[v]),
            )
            facts.execute(
                "INSERT INTO stock_ledger (item_id, version, sku, location, movement, "
                "on_hand_delta, reserved_delta, in_transit_delta, event_name, event_topic, "
                "event_partition, event_offset, occurred_at) VALUES (%s, %s, 'MUG', 'WH-GZ', "
                "'shipped', -3, -3, 0, 'ReservationCommitted', 't', 0, %s, %s)",
                (uuid.UUID(int=97), v, v, at[v]),
            )
    settled = "SELECT day, captured FROM daily_settlement WHERE channel = 'tmall' ORDER BY day"
    shipped = f"SELECT day, units FROM inventory_sales_daily WHERE item_id = '{uuid.UUID(int=97)}'"
    days = [date(2026, 11, 10), date(2026, 11, 11)]
    assert facts.execute(settled).fetchall() == [(d, 1000) for d in days]
    assert sorted(facts.execute(shipped).fetchall()) == [(d, 3) for d in days]
    try:
        assert set_timezone(facts, "UTC")  # every calendar follows the one setting
        assert facts.execute(settled).fetchall() == [(days[0], 2000)]
        assert facts.execute(shipped).fetchall() == [(days[0], 6)]
    finally:
        set_timezone(facts, ZONE)


def test_low_stock_shows_the_forecast_runs_suggestion(facts: psycopg.Connection[Any]) -> None:
    before = "SELECT sku, location, suggested_replenishment FROM low_stock"
    # TEA is low, but no forecast has run yet.
    assert facts.execute(before).fetchall() == [("TEA", "WH-SH", None)]
    ran = run_forecast(facts, 7.0, 3.0, ZONE, 112, NOW)
    again = run_forecast(facts, 7.0, 3.0, ZONE, 112, NOW + timedelta(hours=1))
    assert again == ran  # the same stock and history: the same suggestions
    tea = next(r for r in ran if (r["sku"], r["location"]) == ("TEA", "WH-SH"))
    assert tea["suggested"] > 0
    assert facts.execute(
        "SELECT method, lead_time_demand, safety_stock, suggested_replenishment, forecast_at "
        "FROM low_stock"
    ).fetchall() == [
        (
            "holt-winters", tea["lead_time_demand"], tea["safety_stock"], tea["suggested"],
            NOW + timedelta(hours=1),
        )
    ]  # fmt: skip
    # Each run replaces the table: one row per item, from the latest run.
    assert facts.execute("SELECT count(*), min(computed_at) FROM demand_forecast").fetchone() == (
        3,
        NOW + timedelta(hours=1),
    )


SOLD = "status IN ('open', 'shipped', 'delivered')"
# Each report, and the plain SQL its total must equal.
CASES = {
    "sales": (
        {
            "source": "sales",
            "dimensions": ["channel", "sku", "location", "region", "week"],
            "measures": ["orders", "units", "net_amount"],
            "filters": {"channel": ["tmall", "jd"]},
        },
        {
            "units": f"SELECT sum(quantity) FROM fact_order_line WHERE {SOLD} "
            "AND channel IN ('tmall', 'jd')",
            "net_amount": f"SELECT sum(net_amount) FROM fact_order_line WHERE {SOLD} "
            "AND channel IN ('tmall', 'jd')",
        },
    ),
    "sales-window": (
        {
            "source": "sales",
            "dimensions": ["day"],
            "measures": ["units"],
            "from": "2026-11-15",
            "to": "2026-11-20",
        },
        {
            "units": f"SELECT sum(quantity) FROM fact_order_line WHERE {SOLD} AND "
            "(placed_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN '2026-11-15' AND '2026-11-20'"
        },
    ),
    "fulfilment": (
        {
            "source": "fulfilment",
            "dimensions": ["channel", "location", "month"],
            "measures": ["lines", "shipped_lines", "delivered_lines"],
        },
        {
            "lines": f"SELECT count(*) FROM fact_order_line WHERE {SOLD}",
            "shipped_lines": f"SELECT count(*) FROM fact_order_line WHERE {SOLD} "
            "AND shipped_at IS NOT NULL",
            "delivered_lines": f"SELECT count(*) FROM fact_order_line WHERE {SOLD} "
            "AND delivered_at IS NOT NULL",
        },
    ),
    "returns": (
        {
            "source": "returns",
            "dimensions": ["channel", "sku", "reason", "day"],
            "measures": ["returned_units"],
        },
        {
            "returned_units": "SELECT sum((l->>'quantity')::int) FROM return_tracking, "
            "jsonb_array_elements(lines) l WHERE status <> 'rejected'"
        },
    ),
    "exceptions": (
        {
            "source": "exceptions",
            "dimensions": ["kind", "day"],
            "measures": ["exceptions"],
            "last_days": 2,
        },
        {
            "exceptions": "SELECT count(*) FROM exception WHERE "
            "(occurred_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN '2026-11-29' AND '2026-11-30'"
        },
    ),
    "stock": (
        {"source": "stock", "dimensions": ["sku"], "measures": ["available", "low_items"]},
        {
            "available": "SELECT sum(on_hand - reserved) FROM inventory_level",
            "low_items": "SELECT count(*) FROM inventory_level "
            "WHERE on_hand - reserved < low_stock_threshold",
        },
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_each_reports_totals_equal_a_plain_sql_over_the_facts(
    facts: psycopg.Connection[Any], case: str
) -> None:
    raw, expected = CASES[case]
    definition = ReportDefinition.model_validate({"name": case, **raw})
    table = run_query(facts, definition, NOW.date())
    assert len(table.rows) > 1  # really cut by its dimensions
    for measure, plain in expected.items():
        column = table.columns.index(measure)
        total = sum(row[column] for row in table.rows)
        row = facts.execute(plain).fetchone()
        assert row is not None
        assert total == row[0] > 0, measure


def test_a_run_writes_xlsx_parquet_csv_and_charts_whose_totals_match(
    facts: psycopg.Connection[Any], tmp_path: Path
) -> None:
    definition = ReportDefinition.model_validate(
        {
            "name": "sales-by-channel",
            "source": "sales",
            "dimensions": ["channel", "day"],
            "measures": ["orders", "units", "net_amount"],
            "last_days": 30,
            "charts": [
                "daily_sales", "channel_mix", "fulfilment_times", "delivery_times",
                "return_rates", "exceptions_by_kind", "stock_cover",
            ],
        }
    )  # fmt: skip
    run = run_report(facts, definition, NOW, tmp_path, ZONE, 112)
    assert run.folder == tmp_path / "sales-by-channel" / "20261201-100000"
    row = facts.execute(
        f"SELECT sum(quantity), sum(net_amount) FROM fact_order_line WHERE {SOLD}"
    ).fetchone()
    assert row is not None
    units, net = row

    sheet = load_workbook(run.folder / "sales-by-channel.xlsx").active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("channel", "day", "orders", "units", "net_amount")
    assert sum(v[3] for v in values[1:]) == units
    assert sum(v[4] for v in values[1:]) == net

    parquet = pq.read_table(run.folder / "sales-by-channel.parquet")
    assert parquet.column_names == ["channel", "day", "orders", "units", "net_amount"]
    assert sum(parquet.column("units").to_pylist()) == units
    assert parquet.num_rows == len(run.table.rows)

    csv_lines = (run.folder / "sales-by-channel.csv").read_text(encoding="utf-8-sig").splitlines()
    assert csv_lines[0] == "channel,day,orders,units,net_amount"
    assert len(csv_lines) == len(run.table.rows) + 1

    charts = [p for p in run.files if p.suffix in (".png", ".svg")]
    assert len(charts) == 14
    for chart in charts:
        head = chart.read_bytes()[:200]
        assert head.startswith(b"\x89PNG") if chart.suffix == ".png" else b"<svg" in head


def test_replenishment_forecasts_a_long_history_and_averages_a_short_one(
    facts: psycopg.Connection[Any],
) -> None:
    rows = {(r["sku"], r["location"]): r for r in suggestions(facts, 7.0, 3.0, ZONE, 112)}
    tea = rows[("TEA", "WH-SH")]
    assert tea["method"] == "holt-winters"
    # The weekly pattern sums to 45 units a week: a week of lead time forecasts about that.
    assert 40 <= tea["lead_time_demand"] <= 50
    assert tea["suggested"] == (tea["lead_time_demand"] + tea["safety_stock"] - tea["available"])
    cup = rows[("CUP", "WH-BJ")]
    assert cup["method"] == "average"  # one week: too short for a season
    assert cup["daily_sales"] == pytest.approx(14 / 28)
    assert cup["suggested"] == 4 + 5 - 7  # ceil(7 x 0.5) + threshold 5 - available 7
    assert rows[("CUP", "WH-SH")]["method"] == "none"
    assert rows[("CUP", "WH-SH")]["suggested"] == 0


def test_the_analysts_page_plain_sql_matches_the_report(facts: psycopg.Connection[Any]) -> None:
    page = DOC.read_text()
    definitions = parse_definitions(re.search(r"```toml\n(.*?)```", page, re.S).group(1))  # type: ignore[union-attr]
    assert len(definitions) == 5
    today = facts.execute(
        "SELECT (now() AT TIME ZONE timezone)::date FROM business_calendar"
    ).fetchone()[0]  # type: ignore[index]
    report = run_query(facts, definitions["weekly-sales"], today)
    plain = facts.execute(doc_query(page, "weekly_sales_plain")).fetchall()
    assert [tuple(r) for r in report.rows] == plain
    shipped = facts.execute(doc_query(page, "shipped_per_business_day")).fetchall()
    assert (
        sum(r[3] for r in shipped)
        == facts.execute(
            "SELECT -sum(on_hand_delta) FROM stock_ledger WHERE movement = 'shipped'"
        ).fetchone()[0]
    )  # type: ignore[index]


def doc_query(page: str, name: str) -> str:
    """The SQL block after ``<!-- query: name -->`` on the analysts' page."""
    match = re.search(rf"<!-- query: {name} -->\s*```sql\n(.*?)```", page, re.S)
    assert match, name
    return match.group(1)
