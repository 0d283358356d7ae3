"""Bulk writing for projections: load the rows a batch touches, fold, write them back.

A batch costs a handful of statements whatever its size: one SELECT per table to
load the current rows the runner's cache (``rowcache``) does not hold, one COPY
into a temporary table, one INSERT … ON CONFLICT.
Upserts only replace a row whose stored ``version`` is older, so applying an
event twice never changes anything.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql

from oms_events.eventlog import EventRecord

Row = dict[str, Any]
Handler = Callable[[Row, EventRecord], None]


def load(
    conn: psycopg.Connection[Any], table: str, key: str, keys: Collection[Any]
) -> dict[Any, Row]:
    """Rows of ``table`` whose ``key`` column is in ``keys``, by key value."""
    if not keys:
        return {}
    query = sql.SQL("SELECT * FROM {} WHERE {} = ANY(%s)").format(
        sql.Identifier(table), sql.Identifier(key)
    )
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(query, (list(keys),))
        return {row[key]: row for row in cur}


def load_grouped(
    conn: psycopg.Connection[Any], table: str, key: str, keys: Collection[Any]
) -> dict[Any, list[Row]]:
    """Rows of ``table`` whose ``key`` is in ``keys``, grouped by key (e.g. lines per order)."""
    grouped: dict[Any, list[Row]] = {k: [] for k in keys}
    if not keys:
        return grouped
    query = sql.SQL("SELECT * FROM {} WHERE {} = ANY(%s)").format(
        sql.Identifier(table), sql.Identifier(key)
    )
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(query, (list(keys),))
        for row in cur:
            grouped[row[key]].append(row)
    return grouped


def fold(
    events: Iterable[EventRecord],
    state: dict[Any, Row],
    handlers: Mapping[str, Handler],
    creators: Collection[str],
    key: Callable[[EventRecord], Any] = lambda e: e.originator_id,
) -> dict[Any, Row]:
    """Apply each event to its aggregate's row unless the row already has its version.

    ``state`` holds the rows loaded from the database (and gains new ones); the
    rows changed are returned. An event of an aggregate whose creation was never
    seen is skipped: its row could not be whole.
    """
    changed: dict[Any, Row] = {}
    for event in events:
        handler = handlers.get(event.name)
        if handler is None:
            continue
        k = key(event)
        row = state.get(k)
        if row is None:
            if event.name not in creators:
                continue
            row = state[k] = {"version": 0}
        if event.originator_version <= row["version"]:
            continue  # already applied: the version guard
        handler(row, event)
        row["version"] = event.originator_version
        row["updated_at"] = event.timestamp
        changed[k] = row
    return changed


def _copy_to_temp(
    conn: psycopg.Connection[Any], table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> sql.Identifier:
    temp = sql.Identifier(f"_in_{table}")
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    # Same column types as the target, dropped at commit: nothing leaks between batches.
    conn.execute(
        sql.SQL(
            "CREATE TEMP TABLE IF NOT EXISTS {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA"
        ).format(temp, cols, sql.Identifier(table))
    )
    # Nor between writes of one transaction (the runner's record-by-record retry makes
    # several): rows left from an earlier one would be merged again, counters added twice.
    conn.execute(sql.SQL("DELETE FROM {}").format(temp))
    with (
        conn.cursor() as cur,
        cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(temp, cols)) as cp,
    ):
        for row in rows:
            cp.write_row(row)
    return temp


def upsert(
    conn: psycopg.Connection[Any],
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    key: Sequence[str],
    guard: str | None = "version",
) -> None:
    """Insert ``rows`` or update the existing ones, only where the stored ``guard`` is older."""
    where = (
        sql.SQL(" WHERE {t}.{g} < excluded.{g}").format(
            t=sql.Identifier(table), g=sql.Identifier(guard)
        )
        if guard
        else sql.SQL("")
    )
    replace = sql.SQL("{0} = excluded.{0}")
    _merge(conn, table, columns, rows, key, replace.format, where)


def add_up(
    conn: psycopg.Connection[Any],
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    key: Sequence[str],
) -> None:
    """Insert ``rows`` or add their non-key columns to the existing ones (counters).

    Not idempotent by itself: call it only with amounts from events that passed
    the version guard of the same transaction.
    """
    stored = sql.Identifier(table)
    _merge(
        conn,
        table,
        columns,
        rows,
        key,
        lambda c: sql.SQL("{0} = {1}.{0} + excluded.{0}").format(c, stored),
        sql.SQL(""),
    )


def _merge(
    conn: psycopg.Connection[Any],
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    key: Sequence[str],
    assign: Callable[[sql.Identifier], sql.Composable],
    where: sql.Composable,
) -> None:
    # COPY the rows into a temp table, then one INSERT ... ON CONFLICT DO UPDATE that
    # sets each non-key column as ``assign`` says.
    if not rows:
        return
    temp = _copy_to_temp(conn, table, columns, rows)
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    updates = sql.SQL(", ").join(assign(sql.Identifier(c)) for c in columns if c not in key)
    query = sql.SQL(
        "INSERT INTO {t} ({cols}) SELECT {cols} FROM {temp} ON CONFLICT ({key}) "
        "DO UPDATE SET {updates}{where}"
    ).format(
        t=sql.Identifier(table),
        cols=cols,
        temp=temp,
        key=sql.SQL(", ").join(map(sql.Identifier, key)),
        updates=updates,
        where=where,
    )
    conn.execute(query)


def insert_new(
    conn: psycopg.Connection[Any],
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Insert ``rows``, ignoring those whose key exists (append-only tables: timeline, facts)."""
    if not rows:
        return
    temp = _copy_to_temp(conn, table, columns, rows)
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    conn.execute(
        sql.SQL("INSERT INTO {t} ({cols}) SELECT {cols} FROM {temp} ON CONFLICT DO NOTHING").format(
            t=sql.Identifier(table), cols=cols, temp=temp
        )
    )


def as_tuples(rows: Iterable[Row], columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """Rows as tuples in ``columns`` order (missing columns are NULL)."""
    return [tuple(row.get(c) for c in columns) for row in rows]
