"""``oms report``: the analysts' saved reports (list, run now, run on their schedules).

Definitions live in a TOML file (OMS_ANALYTICS_REPORTS_FILE, docs/analysts.md shows
one); each run writes CSV / XLSX / Parquet and PNG + SVG charts to
OMS_ANALYTICS_OUTPUT_DIR/<report>/<business time of the run>/. Mailing the files is
not done here: no notifier exists yet.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import psycopg
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from oms_events.analytics.reports import ReportDefinition, ReportFileError, load_definitions
from oms_events.analytics.runs import ForecastJob, Scheduler, run_report
from oms_events.cli.errors import one_line_errors
from oms_events.cli.forecast import forecast_into_table
from oms_events.cli.project import SCHEMA, schema_or_setting
from oms_events.projection.runner import connect
from oms_events.settings import get_settings

app = typer.Typer(
    help="Saved analytics reports: exports (CSV, XLSX, Parquet) and charts (PNG, SVG).\n\n"
    "Examples:\n\n"
    "  oms report list\n\n"
    "  oms report run weekly-sales\n\n"
    "  oms report run --all --out /srv/reports\n\n"
    "  oms report schedule            # runs until Ctrl-C, each report at its cron time",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

FILE = typer.Option(
    "--file",
    help="Report definitions (TOML) (default: OMS_ANALYTICS_REPORTS_FILE).",
    show_default=False,
)
OUT = typer.Option(
    "--out",
    help="Folder to write to (default: OMS_ANALYTICS_OUTPUT_DIR).",
    show_default=False,
)


def _fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _definitions(path: Path | None) -> dict[str, ReportDefinition]:
    try:
        return load_definitions(path or get_settings().analytics.reports_file)
    except ReportFileError as e:
        _fail(str(e))


@app.command("list")
@one_line_errors
def list_reports(file: Annotated[Path | None, FILE] = None) -> None:
    """The saved reports: source, dimensions, measures, schedule.

    Example: oms report list --file reports.toml
    """
    table = Table(title="Reports")
    for column in ("name", "source", "dimensions", "measures", "window", "schedule"):
        table.add_column(column)
    for d in _definitions(file).values():
        window = (
            f"last {d.last_days} d" if d.last_days else f"{d.date_from or ''}..{d.date_to or ''}"
        )
        table.add_row(
            d.name, d.source, ", ".join(d.dimensions), ", ".join(d.measures), window,
            d.schedule or "-",
        )  # fmt: skip
    out.print(table)


@app.command()
@one_line_errors
def run(
    names: Annotated[list[str] | None, typer.Argument(help="Reports to run.")] = None,
    run_all: Annotated[bool, typer.Option("--all", help="Run every saved report.")] = False,
    file: Annotated[Path | None, FILE] = None,
    output: Annotated[Path | None, OUT] = None,
    schema: str | None = SCHEMA,
) -> None:
    """Run reports now and print the files written.

    Example: oms report run weekly-sales daily-exceptions --out ./reports
    """
    definitions = _definitions(file)
    if run_all:
        chosen = list(definitions.values())
    elif names:
        missing = [n for n in names if n not in definitions]
        if missing:
            _fail(f"report {missing[0]!r}: no such report; oms report list shows them")
        chosen = [definitions[n] for n in names]
    else:
        _fail("name a report or give --all; e.g. oms report run weekly-sales")
    settings = get_settings()
    a = settings.analytics
    now = datetime.now(UTC)
    with connect(
        settings.postgres.dsn, schema_or_setting(schema), "oms-report", create=False
    ) as conn:
        for d in chosen:
            result = run_report(
                conn, d, now, output or a.output_dir, a.timezone, a.forecast_history_days
            )
            out.print(f"{d.name}: {len(result.table.rows)} row(s) -> {result.folder}")
            for path in result.files:
                out.print(f"  {path.name}")


@app.command()
@one_line_errors
def schedule(
    file: Annotated[Path | None, FILE] = None,
    output: Annotated[Path | None, OUT] = None,
    schema: str | None = SCHEMA,
) -> None:
    """Run each report that has a schedule at its cron times, until Ctrl-C.

    Cron times are read in OMS_ANALYTICS_TIMEZONE; a time missed while this was not
    running is not caught up (oms report run does it by hand). The demand forecast
    (oms forecast run, shown by low_stock) runs too, on OMS_ANALYTICS_FORECAST_SCHEDULE.

    Example: OMS_ANALYTICS_TIMEZONE=Asia/Shanghai oms report schedule --out /srv/reports
    """
    definitions = _definitions(file)
    settings = get_settings()
    a = settings.analytics
    folder = output or a.output_dir
    with connect(
        settings.postgres.dsn, schema_or_setting(schema), "oms-report", create=False
    ) as conn:

        def fire(d: ReportDefinition | ForecastJob, due: datetime) -> None:
            try:
                if isinstance(d, ForecastJob):
                    items, reorder = forecast_into_table(conn, now=due)
                    out.print(f"{due.isoformat()} {d.name}: {items} item(s), {reorder} to reorder")
                    return
                result = run_report(conn, d, due, folder, a.timezone, a.forecast_history_days)
            except (psycopg.Error, OSError) as e:
                # One failed run (disk full, a query error) must not stop the others.
                message = " ".join(str(e).split())
                err.print(f"[bold red]error:[/] {due.isoformat()} {d.name}: {escape(message)}")
                return
            out.print(f"{due.isoformat()} {d.name}: {len(result.files)} file(s) -> {result.folder}")

        jobs: list[ReportDefinition | ForecastJob] = list(definitions.values())
        if a.forecast_schedule:
            jobs.append(ForecastJob(a.forecast_schedule))
        scheduler = Scheduler(jobs, a.timezone, lambda: datetime.now(UTC), fire)
        if scheduler.next_due() is None:
            _fail('no report has a schedule; add e.g. schedule = "0 8 * * 1" to one')
        try:
            while True:
                scheduler.tick()
                due = scheduler.next_due()
                assert due is not None
                out.print(f"next run at {due.isoformat()}")
                # Sleep in short steps: Ctrl-C stays prompt and a changed clock is noticed.
                while datetime.now(UTC) < due:
                    time.sleep(min(30.0, max((due - datetime.now(UTC)).total_seconds(), 0.1)))
        except KeyboardInterrupt:
            out.print("stopped")
