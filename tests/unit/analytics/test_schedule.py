"""Scheduled reports fire at their cron time in the shop's time zone, once, on a
controlled clock (no sleeping)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from oms_events.analytics.reports import ReportDefinition
from oms_events.analytics.runs import ForecastJob, Scheduler


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def report(name: str, schedule: str | None) -> ReportDefinition:
    return ReportDefinition.model_validate(
        {"name": name, "source": "sales", "measures": ["units"], "schedule": schedule}
    )


def test_a_scheduled_report_fires_at_its_time_once() -> None:
    # Monday 2026-11-30 07:59 in Shanghai = 23:59 UTC on Sunday.
    clock = Clock(datetime(2026, 11, 29, 23, 59, tzinfo=UTC))
    ran: list[tuple[str, datetime]] = []
    scheduler = Scheduler(
        [report("weekly", "0 8 * * 1"), report("adhoc", None), report("hourly", "0 * * * *")],
        "Asia/Shanghai",
        clock,
        lambda d, due: ran.append((d.name, due)),
    )
    assert scheduler.tick() == []
    clock.now += timedelta(minutes=1)  # 08:00 Shanghai
    assert scheduler.tick() == ["weekly", "hourly"]
    assert [(name, due.astimezone(UTC)) for name, due in ran] == [
        ("weekly", datetime(2026, 11, 30, 0, 0, tzinfo=UTC)),
        ("hourly", datetime(2026, 11, 30, 0, 0, tzinfo=UTC)),
    ]
    clock.now += timedelta(minutes=30)
    assert scheduler.tick() == []  # fired once, not again within the same period
    clock.now += timedelta(minutes=30)
    assert scheduler.tick() == ["hourly"]
    assert scheduler.next_due() == datetime(2026, 11, 30, 1, 0, tzinfo=UTC) + timedelta(hours=1)


def test_a_time_missed_while_down_is_not_caught_up_in_a_flood() -> None:
    clock = Clock(datetime(2026, 11, 30, 0, 30, tzinfo=UTC))
    ran: list[str] = []
    scheduler = Scheduler(
        [report("hourly", "0 * * * *")], "Asia/Shanghai", clock, lambda d, due: ran.append(d.name)
    )
    clock.now += timedelta(hours=5)  # five fire times passed without a tick
    assert scheduler.tick() == ["hourly"]
    assert ran == ["hourly"]
    assert scheduler.next_due() == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def test_the_forecast_runs_on_its_cron_next_to_the_reports() -> None:
    # 05:59 in Shanghai on 2026-12-01; the forecast is due at 06:00 business time.
    clock = Clock(datetime(2026, 11, 30, 21, 59, tzinfo=UTC))
    ran: list[object] = []
    scheduler = Scheduler(
        [report("weekly", "0 8 * * 1"), ForecastJob("0 6 * * *")],
        "Asia/Shanghai",
        clock,
        lambda d, due: ran.append(d),
    )
    clock.now += timedelta(minutes=1)
    assert scheduler.tick() == ["demand-forecast"]
    assert ran == [ForecastJob("0 6 * * *")]
    clock.now += timedelta(hours=23, minutes=59)
    assert scheduler.tick() == []  # once a day
