"""The operator API's tables (projections/024_api.sql): core, so a projection's replay
leaves users, keys and closed exceptions alone; ``oms user`` manages them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from oms_events.api.database import Database
from oms_events.api.users import User, authenticate
from oms_events.cli.main import app
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


def test_oms_user_adds_disables_and_revokes(dev_services: Settings) -> None:
    schema = f"t_apiuser_{uuid.uuid4().hex[:8]}"
    run = CliRunner()
    env = {"COLUMNS": "200"}
    at = ["--schema", schema]  # not the environment: get_settings() is cached per process
    db = Database(dev_services.postgres.dsn, schema, size=1)
    try:
        added = run.invoke(
            app,
            ["user", "add", "li.lei", "--role", "admin", "--password-stdin", *at],
            input="a-long-password\n",
            env=env,
        )
        assert added.exit_code == 0, added.output
        assert authenticate(db, "li.lei", "a-long-password") == User("li.lei", ("admin",))
        made = run.invoke(app, ["user", "key", "web", *at], env=env)
        key_id = made.output.split("OMS_CHANNEL_KEY=")[1].split()[0]
        assert "OMS_CHANNEL_SECRET=" in made.output

        assert run.invoke(app, ["user", "disable", "li.lei", *at], env=env).exit_code == 0
        assert run.invoke(app, ["user", "revoke", key_id, *at], env=env).exit_code == 0

        assert authenticate(db, "li.lei", "a-long-password") is None
        listed = run.invoke(app, ["user", "list", *at], env=env).output
        assert "disabled" in listed and key_id in listed
        assert db.row("SELECT 1 FROM api_key WHERE revoked_at IS NULL") is None
        unknown = run.invoke(app, ["user", "disable", "nobody", *at], env=env)
        assert unknown.exit_code != 0 and "no user 'nobody'" in unknown.output
    finally:
        db.close()
        with psycopg.connect(dev_services.postgres.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
