"""``oms status``: processes waiting for Kafka or PostgreSQL, then the lag of every
projection per partition and the age of its last event."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.table import Table

from oms_events.cli.errors import one_line_errors
from oms_events.cli.project import SCHEMA, schema_or_setting
from oms_events.projection.registry import select
from oms_events.projection.runner import connect
from oms_events.projection.status import age_seconds, lags, render_prometheus
from oms_events.settings import Settings, get_settings
from oms_events.waits import current, folder

out = Console()


@one_line_errors
def status(
    schema: str | None = SCHEMA,
    prometheus: bool = typer.Option(False, "--prometheus", help="Prometheus text format."),
) -> None:
    """Processes (engine, intake, projections) waiting for Kafka or PostgreSQL, then each
    projection's lag per partition (end offset - stored offset) and how old the newest
    event it applied is.

    Example: oms status --schema oms
    """
    settings = get_settings()
    schema = schema_or_setting(schema)
    if not prometheus:
        # Before connecting: what they wait for may be this very PostgreSQL.
        _waits(settings)
    with connect(settings.postgres.dsn, schema, "oms-status", create=False) as conn:
        rows = lags(settings, conn, schema, select([]))
    if prometheus:
        print(render_prometheus(rows), end="")
        return
    ages = age_seconds(rows)
    table = Table("projection", "topic", "partition", "stored", "end", "lag", "last event age")
    for r in rows:
        age = ages.get(r.projection)
        table.add_row(
            r.projection,
            r.topic,
            str(r.partition),
            str(r.stored),
            str(r.end),
            str(r.lag),
            "-" if age is None else f"{age:,.0f} s",
        )
    out.print(table)


def _waits(settings: Settings) -> None:
    waits = current(folder(settings))
    if not waits:
        return
    table = Table("process", "pid", "waiting for / 等待", "since (UTC)", "attempts", "last error")
    for w in waits:
        since = datetime.fromtimestamp(w.since, UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(w.process, str(w.pid), w.waiting_for, since, str(w.attempt), w.error)
    out.print(table)
