"""Fixtures of the projection tests: their own topics and their own PostgreSQL schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

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
