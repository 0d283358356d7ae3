"""The operator API's tables (projections/023_api.sql) are core: a projection's replay
swaps its own tables and leaves users, keys, commands and closed exceptions alone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from oms_events.projection.migrate import migrate
from oms_events.projection.registry import select
from oms_events.projection.replay import swap_in
from oms_events.projection.runner import connect
from oms_events.settings import Settings


@pytest.fixture
def live(dev_services: Settings) -> Iterator[psycopg.Connection[Any]]:
    schema = f"t_apireplay_{uuid.uuid4().hex[:8]}"
    with connect(dev_services.postgres.dsn, schema, "test-api-replay") as conn:
        migrate(conn, schema, select(["exceptions"]))
        try:
            yield conn
        finally:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def test_a_replay_keeps_users_keys_and_closed_exceptions(live: psycopg.Connection[Any]) -> None:
    schema = live.execute("SELECT current_schema()").fetchone()[0]  # type: ignore[index]
    live.execute(
        "INSERT INTO api_user (username, password_hash, roles, created_by) "
        "VALUES ('li.lei', '$argon2id$x', '{admin}', 'test')"
    )
    live.execute(
        "INSERT INTO api_key (key_id, channel, secret, created_by) VALUES ('k', 'web', 's', 't')"
    )
    live.execute(
        "INSERT INTO exception_resolution (exception_id, action, note, actor) "
        "VALUES ('dead_letter:x', 'resolved', 'fixed', 'li.lei')"
    )
    build = f"{schema}__build"
    (exceptions,) = select(["exceptions"])
    migrate(live, build, [exceptions])
    swap_in(live, exceptions, build, schema)
    live.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    assert live.execute("SELECT username FROM api_user").fetchall() == [("li.lei",)]
    assert live.execute("SELECT key_id FROM api_key").fetchall() == [("k",)]
    assert live.execute("SELECT actor FROM exception_resolution").fetchall() == [("li.lei",)]
