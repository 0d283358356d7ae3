"""The ``projection_offset`` table: how far each projection has read, per partition.

It is advanced in the same transaction as the projection's rows, and only from
the offset the runner expects to find there: a second runner, a zombie, or a
replay swapped in underneath makes the update miss, the transaction rolls back,
and the runner re-reads where the database says it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

Partition = tuple[str, int]  # (topic, partition)


class OffsetConflict(RuntimeError):
    """The stored offsets are not those the runner expected: someone else moved them."""


@dataclass(frozen=True)
class Advance:
    """Move one partition from ``expected`` to ``next_offset``."""

    expected: int
    next_offset: int
    last_event_at: datetime | None


def ensure(conn: psycopg.Connection[Any], projection: str, partitions: Iterable[Partition]) -> None:
    """Create a row at offset 0 for every partition that has none."""
    parts = list(partitions)
    conn.execute(
        "INSERT INTO projection_offset (projection, topic, partition) "
        "SELECT %s, t, p FROM unnest(%s::text[], %s::int[]) AS u(t, p) ON CONFLICT DO NOTHING",
        (projection, [t for t, _ in parts], [p for _, p in parts]),
    )


def load(conn: psycopg.Connection[Any], projection: str) -> dict[Partition, int]:
    """Stored next offsets of a projection."""
    rows = conn.execute(
        "SELECT topic, partition, next_offset FROM projection_offset WHERE projection = %s",
        (projection,),
    ).fetchall()
    return {(t, p): o for t, p, o in rows}


def advance(
    conn: psycopg.Connection[Any], projection: str, moves: Mapping[Partition, Advance]
) -> None:
    """Advance partitions inside the caller's transaction; raise OffsetConflict on a miss."""
    if not moves:
        return
    items = list(moves.items())
    cur = conn.execute(
        "UPDATE projection_offset o SET next_offset = u.n, updated_at = now(), "
        "last_event_at = coalesce(u.at, o.last_event_at) "
        "FROM unnest(%s::text[], %s::int[], %s::bigint[], %s::bigint[], %s::timestamptz[]) "
        "AS u(t, p, e, n, at) "
        "WHERE o.projection = %s AND o.topic = u.t AND o.partition = u.p AND o.next_offset = u.e",
        (
            [t for (t, _), _ in items],
            [p for (_, p), _ in items],
            [a.expected for _, a in items],
            [a.next_offset for _, a in items],
            [a.last_event_at for _, a in items],
            projection,
        ),
    )
    if cur.rowcount != len(items):
        raise OffsetConflict(
            f"projection {projection}: {len(items) - cur.rowcount} partition(s) were not at the "
            "expected offset (another runner or a replay moved them)"
        )
