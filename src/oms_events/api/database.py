"""The API's PostgreSQL: the projections' schema (read models) and the API's own tables
(``projections/024_api.sql``: users, channel keys, commands, closed exceptions)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from oms_events.projection.migrate import migrate_as_owner
from oms_events.settings import Settings

Row = dict[str, Any]


class Database:
    """A small pool of autocommit connections whose names resolve in ``schema``."""

    def __init__(self, dsn: str, schema: str, size: int = 4) -> None:
        self.schema = schema

        def configure(conn: psycopg.Connection[Any]) -> None:
            conn.autocommit = True
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))

        self.pool = ConnectionPool(
            dsn,
            min_size=1,
            max_size=size,
            configure=configure,
            kwargs={"application_name": "oms-api"},
            open=True,
        )

    def migrate(self, settings: Settings) -> None:
        """Apply the core files (the API's tables among them) to the schema, as the
        migrator: the pool's run-time role creates nothing."""
        migrate_as_owner(settings, self.schema, [])

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection (autocommit; ``conn.transaction()`` for more than one
        statement that must hold together)."""
        with self.pool.connection() as conn:
            yield conn

    def rows(self, query: str | sql.Composable, *args: Any, **named: Any) -> list[Row]:
        """Every row of ``query`` as dicts."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(query, named or args).fetchall()  # type: ignore[arg-type]

    def row(self, query: str | sql.Composable, *args: Any, **named: Any) -> Row | None:
        """The first row of ``query``, or None."""
        found = self.rows(query, *args, **named)
        return found[0] if found else None

    def execute(self, query: str | sql.Composable, *args: Any) -> int:
        """Run a write; the number of rows it touched."""
        with self.pool.connection() as conn:
            return conn.execute(query, args).rowcount  # type: ignore[arg-type]

    def close(self) -> None:
        """Close the pool."""
        self.pool.close()
