"""Fixtures of the projection tests: their own topics and their own PostgreSQL schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from oms_events.kafka.admin import apply_topics
from oms_events.settings import Settings
from oms_events.topics import Kind, registry


@pytest.fixture
def topics_ready(isolated: Settings) -> Settings:
    """``isolated`` settings with the event and dead-letter topics created (3 partitions)."""
    settings = isolated.replace(kafka={"partitions": 3})
    specs = [s for s in registry(settings) if s.kind in (Kind.EVENTS, Kind.DEADLETTER)]
    apply_topics(settings, specs)
    return settings


def differences(pg: psycopg.Connection[Any], a: str, b: str, table: str) -> int:
    """Rows of ``table`` in one schema and not the other (counting duplicates)."""
    row = pg.execute(
        sql.SQL(
            "SELECT count(*) FROM ((TABLE {a} EXCEPT ALL TABLE {b}) "
            "UNION ALL (TABLE {b} EXCEPT ALL TABLE {a})) d"
        ).format(a=sql.Identifier(a, table), b=sql.Identifier(b, table))
    ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def analyst_pg(dev_services: Settings) -> Iterator[psycopg.Connection]:
    """A connection as analysts make it (docs/analysts.md): the read-only role. Request it
    after ``schema``, so it closes before the schema is dropped."""
    with psycopg.connect(dev_services.postgres.analyst_dsn) as conn:
        yield conn


def _drop(dsn: str, prefix: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        names = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (prefix + "%",)
        ).fetchall()
        for (name,) in names:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
def schema(dev_services: Settings, pg: psycopg.Connection) -> Iterator[str]:
    """A fresh PostgreSQL schema for one test (and its replay copies), dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    yield name
    pg.rollback()  # the test's reads must not hold the drop back
    _drop(dev_services.postgres.dsn, name)
