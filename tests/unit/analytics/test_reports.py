"""Saved report definitions: one-line errors naming the bad field, and the SQL they
build never carries text of the file."""

from __future__ import annotations

from datetime import date

import pytest

from oms_events.analytics.reports import ReportFileError, parse_definitions, query

GOOD = """
[[report]]
name = "weekly-sales"
source = "sales"
dimensions = ["channel", "week"]
measures = ["units", "net_amount"]
last_days = 28
formats = ["csv", "xlsx"]
charts = ["daily_sales", "channel_mix"]
schedule = "0 8 * * 1"
[report.filters]
channel = ["tmall", "jd"]
"""


def test_a_good_file_gives_its_definitions() -> None:
    d = parse_definitions(GOOD)["weekly-sales"]
    assert d.dimensions == ("channel", "week")
    assert d.filters == {"channel": ("tmall", "jd")}
    # last_days: the 28 business days before the run day, the run day excluded.
    assert d.window(date(2026, 12, 1)) == (date(2026, 11, 3), date(2026, 11, 30))


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (('source = "sales"', 'source = "salez"'), "source: 'salez' is unknown"),
        (('"channel", "week"', '"channel", "colour"'), "dimensions: 'colour'"),
        (('"units", "net_amount"', '"units", "profit"'), "measures: 'profit'"),
        (("channel = [", "day = ["), "filters.day"),
        (("last_days = 28", "last_days = 0"), "last_days"),
        (('"csv", "xlsx"', '"csv", "pdf"'), "formats"),
        (('"channel_mix"', '"pie"'), "charts: 'pie' is unknown"),
        (('"0 8 * * 1"', '"every monday"'), "schedule: 'every monday' is not cron"),
        (('name = "weekly-sales"', 'name = "Weekly Sales"'), "name:"),
        (("schedule =", "colour = 1\nschedule ="), "colour"),
    ],
)
def test_a_bad_field_is_named_in_one_line(change: tuple[str, str], named: str) -> None:
    with pytest.raises(ReportFileError) as refused:
        parse_definitions(GOOD.replace(*change), "reports.toml")
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("reports.toml: report ")
    assert named in message


def test_a_window_on_a_source_without_days_is_refused() -> None:
    text = '[[report]]\nname = "s"\nsource = "stock"\nmeasures = ["available"]\nlast_days = 7\n'
    with pytest.raises(ReportFileError, match="source stock has no days"):
        parse_definitions(text)


def test_filter_values_are_parameters_not_sql() -> None:
    text = GOOD.replace('"tmall", "jd"', '"x\'); DROP TABLE fact_order_line; --"')
    statement, params = query(parse_definitions(text)["weekly-sales"], date(2026, 12, 1))
    assert "DROP" not in repr(statement)
    assert params["f0"] == ["x'); DROP TABLE fact_order_line; --"]
