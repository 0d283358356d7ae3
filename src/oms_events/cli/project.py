"""``oms project`` runs projections; ``oms replay`` rebuilds one and swaps it in."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from oms_events.analytics.calendar import set_timezone
from oms_events.avro.codec import SharedDecodes
from oms_events.avro.registry import codec_from_settings
from oms_events.cli.errors import one_line_errors
from oms_events.cli.shutdown import on_shutdown
from oms_events.kafka.port import TopicPartition
from oms_events.kafka.security import as_service
from oms_events.projection import replay as replays
from oms_events.projection.registry import projected, select
from oms_events.projection.runner import Runner, connect
from oms_events.projection.supervisor import Supervisor
from oms_events.settings import get_settings

out = Console()
SCHEMA_HELP = (
    "PostgreSQL schema of the live projections [default: OMS_PROJECTIONS_SCHEMA_NAME, or oms]."
)
SCHEMA = typer.Option(None, "--schema", help=SCHEMA_HELP, show_default=False)


def schema_or_setting(schema: str | None) -> str:
    """The --schema given, else the settings' projection schema (one default, in Settings)."""
    return schema or get_settings().projections.schema_name


NAMES = typer.Argument(
    None, help="Projections to run (default: all but notifications, run by `oms notify run`)."
)
AS_OF = typer.Option(
    None,
    "--as-of",
    formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"],
    help="Keep only events at or before this instant (UTC unless a zone is given) and "
    "build a point-in-time copy in schema asof_<instant> instead of replacing the live one.",
)


@one_line_errors
def project(
    names: list[str] = NAMES,
    schema: str | None = SCHEMA,
    batch_size: int = typer.Option(5000, help="Most records per PostgreSQL transaction."),
    max_wait: float = typer.Option(0.2, help="Longest wait (s) to fill a batch."),
) -> None:
    """Run projections until SIGTERM or Ctrl-C: each batch of events is written with its
    offsets in one transaction, and a restart resumes where the database says.

    A PostgreSQL or Kafka outage is waited out, not fatal: the log says "waiting for
    PostgreSQL" with the next retry (0.5 s doubling to OMS_RECOVERY_MAX_BACKOFF_S), and
    the projections resume from their committed offsets.

    Example: oms project inventory tracking --schema oms
    """
    settings = as_service(get_settings(), "projections")
    schema = schema_or_setting(schema)
    projections = select(names) if names else projected()
    stop = on_shutdown()  # finish the batch in hand, then leave
    # One decode per event for all projections reading it (three read the order events).
    codec = SharedDecodes(codec_from_settings(settings))
    supervisor = Supervisor(
        settings,
        projections,
        schema,
        stop.is_set,
        batch_size=batch_size,
        max_wait=max_wait,
        codec=codec,
    )
    out.print(f"projecting {', '.join(p.name for p in projections)} into schema {schema}")
    try:
        supervisor.run()
    finally:
        supervisor.close()
    for runner in supervisor.runners:
        m = runner.metrics
        out.print(f"{runner.projection.name}: {m.events} events in {m.batches} batches")


@one_line_errors
def replay(
    name: str = typer.Argument(..., help="Projection to rebuild."),
    schema: str | None = SCHEMA,
    as_of: datetime | None = AS_OF,
    batch_size: int = typer.Option(5000, help="Most records per PostgreSQL transaction."),
) -> None:
    """Rebuild a projection from the start of its topics into a fresh schema while the live
    one keeps serving, then swap it in atomically."""
    settings = get_settings()
    schema = schema_or_setting(schema)
    (projection,) = select([name])
    if projection.runs_alone:
        raise typer.BadParameter(
            f"{name} cannot be replayed: its rows record messages already sent, and a rebuild "
            "would send them again",
            param_hint="NAME",
        )
    if as_of is not None and as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    target = replays.as_of_schema(as_of) if as_of else schema
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]:>8.0f} events/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=out) as bar:
        task = bar.add_task(f"replay {name}", total=None, rate=0.0)
        base: dict[TopicPartition, int] = {}

        def on_start(runner: Runner, targets: dict[TopicPartition, int]) -> None:
            base.update(runner.positions)
            bar.update(task, total=sum(targets[tp] - base[tp] for tp in targets))

        def progress(runner: Runner, n: int) -> None:
            done = sum(runner.positions[tp] - base.get(tp, 0) for tp in runner.positions)
            bar.update(task, completed=done, rate=runner.metrics.rate)

        result = replays.rebuild(
            settings,
            projection,
            target,
            as_of=as_of,
            progress=progress,
            batch_size=batch_size,
            on_start=on_start,
        )
    # A rebuild brings the migration's default business time zone: the settings' again.
    with connect(settings.postgres.dsn, target, "oms-replay", create=False) as conn:
        set_timezone(conn, settings.analytics.timezone)
    rate = result.records / result.seconds if result.seconds else 0.0
    out.print(
        f"{name}: {result.events} events applied ({result.records} records read) in "
        f"{result.seconds:.1f} s, {rate:,.0f} records/s; swapped into schema {result.schema}"
    )
