"""Versioned SQL of ``projections/`` applied to a target schema, once each.

Files are named ``NNN_what.sql``; each projection names the files it owns and
``000_core.sql`` (the offsets table) goes everywhere. The files use unqualified
names and run with ``search_path`` set to the target schema, so the same SQL
builds the live schema, a test's schema, a replay's build schema or an as-of copy.

A view that reads the tables of two projections (``return_reason_rate`` joins the
returns projection's ``return_tracking`` with the analytics fact) belongs to
neither: a replay of one projection swaps its tables in with ``DROP ... CASCADE``,
which takes such a view along, and building it into one projection's replay
schema would drag the other's (empty) tables in. Those views live in
``projections/views/``, written ``CREATE OR REPLACE``, and :func:`refresh_views`
makes each again after every migrate and every swap, once the tables it reads
exist in the schema.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors, sql

from oms_events import resources
from oms_events.projection.spec import Projection
from oms_events.settings import Settings

CORE = "000_core.sql"
CORE_OWNER = "core"
# Files every schema holds, owned by no projection: the offsets, and tables that are
# computed or written rather than folded from events (the demand forecast, the operator
# API's users, keys and commands), which a replay's swap must leave alone (replay.KEPT).
CORE_FILES = (
    CORE,
    "018_demand_forecast.sql",
    "024_api.sql",
    "041_api_command_watch.sql",
    "042_api_grants.sql",
)

_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migration (
    version    text        PRIMARY KEY,
    projection text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE schema_migration IS 'SQL files of projections/ applied to this schema.';
COMMENT ON COLUMN schema_migration.version IS 'File name, e.g. 001_inventory.sql.';
COMMENT ON COLUMN schema_migration.projection IS
    'Projection that owns the file (core for bookkeeping).';
COMMENT ON COLUMN schema_migration.checksum IS
    'SHA-256 of the file as applied; an edited file is refused.';
COMMENT ON COLUMN schema_migration.applied_at IS 'When it was applied.';
"""


class MigrationChanged(RuntimeError):
    """An applied migration file has since been edited: add a new file instead."""


@dataclass(frozen=True)
class Applied:
    """One migration file and whether this run applied it."""

    version: str
    projection: str
    applied: bool


def _checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def use_schema(conn: psycopg.Connection[Any], schema: str) -> None:
    """Create ``schema`` if needed and make it the session's search_path."""
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))


def plan(projections: Iterable[Projection]) -> list[tuple[str, str]]:
    """(file, owner) in apply order: the core files and each projection's, by number.

    A file two projections list (one reads the other's tables, as ``returns`` reads
    the analytics fact) is applied once, owned by the first projection listing it.
    """
    owners = dict.fromkeys(CORE_FILES, CORE_OWNER)
    for p in projections:
        for f in p.migrations:
            owners.setdefault(f, p.name)
    return sorted(owners.items())


def migrate(
    conn: psycopg.Connection[Any],
    schema: str,
    projections: Sequence[Projection],
    sql_dir: Path | None = None,
) -> list[Applied]:
    """Apply the missing migrations of ``projections`` to ``schema``; safe to repeat.

    Runs in one transaction under an advisory lock on the schema, so two
    migrators never interleave and a failed file leaves nothing half-applied.
    """
    return migrate_files(conn, schema, plan(projections), sql_dir, views=True)


def migrate_files(
    conn: psycopg.Connection[Any],
    schema: str,
    files: Sequence[tuple[str, str]],
    sql_dir: Path | None = None,
    views: bool = False,
) -> list[Applied]:
    """Apply the missing ``(file, owner)`` of ``files`` to ``schema`` (see :func:`migrate`);
    the key store's schema (oms_events.privacy) takes its one file this way."""
    results: list[Applied] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"migrate:{schema}",))
        use_schema(conn, schema)
        conn.execute(_MIGRATIONS_TABLE)
        done = dict(conn.execute("SELECT version, checksum FROM schema_migration").fetchall())
        for version, owner in files:
            path = (sql_dir or resources.sql()) / version
            checksum = _checksum(path)
            if version in done:
                if done[version] != checksum:
                    raise MigrationChanged(
                        f"{path} changed after it was applied to schema {schema}; "
                        "add a new migration file instead"
                    )
                results.append(Applied(version, owner, False))
                continue
            conn.execute(path.read_text())  # trusted SQL of the repository
            conn.execute(
                "INSERT INTO schema_migration (version, projection, checksum) VALUES (%s, %s, %s)",
                (version, owner, checksum),
            )
            results.append(Applied(version, owner, True))
        if views:
            refresh_views(conn, sql_dir)
    return results


def migrate_as_owner(
    settings: Settings, schema: str, projections: Sequence[Projection]
) -> list[Applied]:
    """:func:`migrate` over a connection of the migrator (``OMS_POSTGRES_MIGRATOR_DSN``),
    the owner of the schema objects: the run-time role may not create tables."""
    with psycopg.connect(
        settings.postgres.migrator_dsn, autocommit=True, application_name="oms-migrate"
    ) as conn:
        return migrate(conn, schema, projections)


def refresh_views(conn: psycopg.Connection[Any], sql_dir: Path | None = None) -> list[str]:
    """(Re)create the views across projections of ``projections/views/`` in the session's
    schema; a view whose tables are not all there yet is skipped. Returns the made ones."""
    made = []
    for path in sorted(((sql_dir or resources.sql()) / "views").glob("*.sql")):
        try:
            with conn.transaction():  # a savepoint: a skipped view leaves nothing behind
                conn.execute(path.read_text())  # trusted SQL of the repository
        except errors.UndefinedTable:
            continue
        made.append(path.stem)
    return made
