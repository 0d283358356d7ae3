"""Rebuild a projection from the start of its topics, then swap it in atomically.

The rebuild runs in a fresh schema while the live projection keeps serving. The
swap is one transaction: the projection's relations in the target schema are
dropped, the rebuilt ones moved in (``ALTER … SET SCHEMA``) and its offsets
replaced. A live runner then finds the offsets moved, rolls its batch back and
carries on from the rebuilt position. ``as_of`` keeps only events at or before an
instant: a point-in-time copy for analysts, in a schema of its own.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from oms_events.projection.migrate import migrate, refresh_views
from oms_events.projection.runner import Progress, Runner, connect
from oms_events.projection.spec import Projection
from oms_events.settings import Settings

BOOKKEEPING = ("projection_offset", "schema_migration")
# Core tables no swap touches: bookkeeping (copied per projection) and computed tables
# (migrate.CORE_FILES), whose rows a rebuilt projection knows nothing about.
KEPT = (
    *BOOKKEEPING,
    "demand_forecast",
    "api_user",
    "api_key",
    "api_command",
    "exception_resolution",
)


@dataclass(frozen=True)
class ReplayResult:
    """What a rebuild did."""

    projection: str
    schema: str
    events: int
    records: int
    seconds: float


def as_of_schema(as_of: datetime) -> str:
    """The schema of a point-in-time copy, e.g. ``asof_20261127T120000``."""
    return "asof_" + as_of.strftime("%Y%m%dT%H%M%S")


def _relations(conn: psycopg.Connection[Any], schema: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'p') AND NOT c.relname = ANY(%s)",
        (schema, list(KEPT)),
    ).fetchall()
    return {name: kind for name, kind in rows}


def _kind(kind: str) -> sql.SQL:
    return sql.SQL({"v": "VIEW", "m": "MATERIALIZED VIEW"}.get(kind, "TABLE"))


def swap_in(conn: psycopg.Connection[Any], projection: Projection, build: str, target: str) -> None:
    """Replace ``projection``'s relations and offsets in ``target`` by those in ``build``.

    One transaction: readers see the old tables or the new ones, never a mix. The
    target must already hold the bookkeeping tables (``migrate(conn, target, [])``).
    A view of this projection reads only its own tables; the views across
    projections (``projections/views/``) are made again after the swap.
    """
    name = projection.name
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"migrate:{target}",))
        new = _relations(conn, build)
        old = _relations(conn, target)
        # Views before tables, so no drop has to cascade through our own views.
        for rel in sorted(set(new) & set(old), key=lambda r: old[r] != "v"):
            conn.execute(
                sql.SQL("DROP {} IF EXISTS {}.{} CASCADE").format(
                    _kind(old[rel]), sql.Identifier(target), sql.Identifier(rel)
                )
            )
        for rel, kind in sorted(new.items(), key=lambda r: r[1] == "v"):
            conn.execute(
                sql.SQL("ALTER {} {}.{} SET SCHEMA {}").format(
                    _kind(kind), sql.Identifier(build), sql.Identifier(rel), sql.Identifier(target)
                )
            )
        for table in BOOKKEEPING:
            conn.execute(
                sql.SQL("DELETE FROM {}.{} WHERE projection = %s").format(
                    sql.Identifier(target), sql.Identifier(table)
                ),
                (name,),
            )
            conn.execute(
                sql.SQL("INSERT INTO {}.{} SELECT * FROM {}.{} WHERE projection = %s").format(
                    sql.Identifier(target),
                    sql.Identifier(table),
                    sql.Identifier(build),
                    sql.Identifier(table),
                ),
                (name,),
            )
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(build)))
        # The drops above took the views across projections that read our tables.
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(target)))
        refresh_views(conn)


def rebuild(
    settings: Settings,
    projection: Projection,
    target: str,
    *,
    as_of: datetime | None = None,
    progress: Progress | None = None,
    batch_size: int = 5000,
    on_start: Any = None,
) -> ReplayResult:
    """Replay ``projection`` from offset 0 into a build schema, then swap it into ``target``.

    ``on_start(runner, targets)`` is called once the end offsets to reach are known
    (the CLI sizes its progress bar with it).
    """
    started = time.monotonic()
    build = f"{target[:40]}__build_{uuid.uuid4().hex[:8]}"
    # The migrator's: a rebuild creates a schema and drops and moves tables.
    conn = connect(settings.postgres.migrator_dsn, build, f"oms-replay-{projection.name}")
    try:
        migrate(conn, build, [projection])
        # The live projection dead-lettered what it refused; a rebuild only counts it.
        runner = Runner(
            settings, projection, conn, batch_size=batch_size, as_of=as_of, dead_letters=False
        )
        try:
            targets = runner.end_offsets()
            if on_start is not None:
                on_start(runner, targets)
            runner.catch_up(targets, progress)
            if as_of is None:
                # Events kept arriving during the build: take them too, so the live
                # runner has little left to redo after the swap.
                runner.catch_up(None, progress)
        finally:
            runner.close()
        migrate(conn, target, [])
        swap_in(conn, projection, build, target)
        m = runner.metrics
        return ReplayResult(
            projection.name,
            target,
            m.events,
            m.events + m.skipped,
            time.monotonic() - started,
        )
    finally:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(build)))
        conn.close()
