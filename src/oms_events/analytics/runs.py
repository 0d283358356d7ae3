"""Running saved reports: on demand (``oms report run``) and on their cron schedules
(``oms report schedule``), each run written to its own folder; the scheduler also runs
the demand forecast (``oms forecast run``) on OMS_ANALYTICS_FORECAST_SCHEDULE.

The scheduler takes its clock as an argument, so a test drives it through time
without sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import psycopg
from croniter import croniter

from oms_events.analytics.calendar import business_today, set_timezone
from oms_events.analytics.reports import ReportDefinition, ReportTable, run_query


class Scheduled(Protocol):
    """Anything the scheduler fires: a name and a cron expression (None: never)."""

    @property
    def name(self) -> str: ...

    @property
    def schedule(self) -> str | None: ...


@dataclass(frozen=True)
class ForecastJob:
    """The demand forecast as a scheduled job: writes demand_forecast (oms forecast run)."""

    schedule: str
    name: str = "demand-forecast"


@dataclass(frozen=True)
class ReportRun:
    """What one run wrote: the table and every file."""

    name: str
    folder: Path
    table: ReportTable
    files: tuple[Path, ...]


def run_report(
    conn: psycopg.Connection[Any],
    definition: ReportDefinition,
    now: datetime,
    output_dir: Path,
    timezone: str,
    history_days: int,
) -> ReportRun:
    """Run ``definition`` as of ``now`` (aware) and write its exports and charts to
    ``output_dir/<name>/<business time of now>/``."""
    # Imported here: matplotlib, pyarrow and openpyxl would slow every `oms` command
    # (the CLI imports all its modules) for the few that write reports.
    from oms_events.analytics import charts, exports

    set_timezone(conn, timezone)
    today = business_today(now, timezone)
    table = run_query(conn, definition, today)
    stamp = now.astimezone(ZoneInfo(timezone)).strftime("%Y%m%d-%H%M%S")
    folder = output_dir / definition.name / stamp
    folder.mkdir(parents=True, exist_ok=True)
    files = [exports.write(table, folder, definition.name, fmt) for fmt in definition.formats]
    first, last = definition.window(today)
    scope = charts.Scope(first, last, timezone, history_days)
    for chart in definition.charts:
        files += charts.draw(conn, chart, scope, folder, definition.name)
    return ReportRun(definition.name, folder, table, tuple(files))


def next_fire(definition: Scheduled, after: datetime, timezone: str) -> datetime:
    """The first time strictly after ``after`` that the schedule fires, read in the
    shop's time zone (``0 8 * * *`` is 08:00 Beijing time by default)."""
    assert definition.schedule is not None
    start = after.astimezone(ZoneInfo(timezone))
    fire: datetime = croniter(definition.schedule, start).get_next(datetime)
    return fire


@dataclass
class Scheduler:
    """Fires each scheduled report (or the forecast) once per due time of its cron
    expression.

    ``tick()`` runs what fell due since the previous tick (or since the scheduler
    started: a schedule missed while it was down is not caught up, which would flood
    the folder after an outage) and returns the names it ran.
    """

    definitions: Iterable[Scheduled]
    timezone: str
    clock: Callable[[], datetime]
    run: Callable[[Any, datetime], object]
    _due: dict[str, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        now = self.clock()
        self.definitions = [d for d in self.definitions if d.schedule]
        for d in self.definitions:
            self._due[d.name] = next_fire(d, now, self.timezone)

    def tick(self) -> list[str]:
        """Run every report due at the clock's now; their names, in definition order."""
        now = self.clock()
        fired: list[str] = []
        for d in self.definitions:
            due = self._due[d.name]
            if due <= now:
                self.run(d, due)
                fired.append(d.name)
                self._due[d.name] = next_fire(d, now, self.timezone)
        return fired

    def next_due(self) -> datetime | None:
        """The earliest next fire time of all schedules (None when nothing is scheduled)."""
        return min(self._due.values(), default=None)
