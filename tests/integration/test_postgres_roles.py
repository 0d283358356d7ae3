"""Least privilege on the dev PostgreSQL (issue 18): passwords always, no superuser at
run time, analysts read and nothing else; on the server `oms dev up` starts."""

from __future__ import annotations

import stat
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql

from oms_events.devservices import postgres_roles as roles
from oms_events.devservices.postgres_server import PostgresServer
from oms_events.projection import offsets
from oms_events.projection.migrate import migrate_as_owner
from oms_events.projection.registry import load_projections
from oms_events.projection.runner import connect
from oms_events.settings import Settings

SECRETS = ("api_user", "api_key")  # the API's own: no analyst reads them


@pytest.fixture(scope="module")
def schema(dev_services: Settings) -> Iterator[str]:
    """Every projection's tables, made by the migrator after the server's setup: the
    grants below are the default privileges, not grants made for these tables."""
    name = f"roles_{uuid.uuid4().hex[:8]}"
    migrate_as_owner(dev_services, name, list(load_projections().values()))
    yield name
    with psycopg.connect(dev_services.postgres.migrator_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def role_dsn(settings: Settings, role: str) -> str:
    return roles.dsn(settings.dev.data_dir, settings.dev.postgres_port, role)


def tables(conn: psycopg.Connection[Any], schema: str) -> list[str]:
    rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))
    return sorted(r[0] for r in rows.fetchall())


def first_column(conn: psycopg.Connection[Any], schema: str, table: str) -> str:
    row = conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum = 1",
        (f'"{schema}"."{table}"',),
    ).fetchone()
    assert row is not None
    return str(row[0])


def refused(conn: psycopg.Connection[Any], statement: sql.Composable) -> bool:
    try:
        conn.execute(statement)
    except errors.InsufficientPrivilege:
        return True
    return False


def test_a_connection_without_or_with_a_wrong_password_is_refused(dev_services: Settings) -> None:
    port = dev_services.dev.postgres_port
    for role in (*roles.ROLES, "postgres"):
        with pytest.raises(psycopg.OperationalError, match="no password supplied"):
            psycopg.connect(f"postgresql://{role}@127.0.0.1:{port}/oms", connect_timeout=5)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(f"postgresql://{role}:oms@127.0.0.1:{port}/oms", connect_timeout=5)
    # The socket admits no role of ours (only the superuser, by peer identity), and
    # its folder is closed to other OS users.
    run_dir = PostgresServer(dev_services).run_dir
    with pytest.raises(psycopg.OperationalError, match=r"pg_hba\.conf|Peer authentication"):
        psycopg.connect(host=str(run_dir), port=port, user=roles.WRITER, dbname="oms")
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700


def test_the_credentials_file_is_private_and_holds_every_role(dev_services: Settings) -> None:
    path = roles.passfile(dev_services.dev.data_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    passwords = roles.read_passwords(dev_services.dev.data_dir)
    assert set(passwords) == set(roles.ROLES)
    assert all(len(p) >= 24 and p != "oms" for p in passwords.values())


def test_no_role_is_superuser_and_the_run_time_role_creates_nothing(
    dev_services: Settings, schema: str
) -> None:
    with psycopg.connect(role_dsn(dev_services, roles.WRITER), autocommit=True) as conn:
        powers = conn.execute(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
            "WHERE rolname = ANY(%s) ORDER BY rolname",
            ([*roles.ROLES, roles.LEGACY_ROLE],),
        ).fetchall()
        assert powers == sorted((r, False, False, False) for r in roles.ROLES)  # no oms/oms
        assert refused(conn, sql.SQL("CREATE ROLE intruder LOGIN SUPERUSER"))
        assert refused(conn, sql.SQL("CREATE SCHEMA intruder"))
        assert refused(
            conn, sql.SQL("CREATE TABLE {}.intruder (x int)").format(sql.Identifier(schema))
        )
    # What it is for: rows of the projection tables, made after the server's setup.
    with connect(role_dsn(dev_services, roles.WRITER), schema, "test-writer", create=False) as conn:
        with conn.transaction():
            offsets.ensure(conn, "roles-test", [("t", 0)])
        assert offsets.load(conn, "roles-test") == {("t", 0): 0}
        conn.execute("DELETE FROM projection_offset WHERE projection = 'roles-test'")


WRITES = (
    "INSERT INTO {} DEFAULT VALUES",
    "UPDATE {} SET {column} = {column} WHERE false",
    "DELETE FROM {} WHERE false",
)
OWNERS_ONLY = ("TRUNCATE {}", "ALTER TABLE {} ADD COLUMN intruder int", "CREATE INDEX ON {} ((1))")


@pytest.mark.parametrize(
    ("role", "unreadable", "writable"),
    [
        (roles.ANALYST, SECRETS, ()),
        (roles.API, (), ("api_user", "api_key", "api_command", "exception_resolution")),
    ],
)
def test_a_reading_role_reads_the_projection_tables_and_writes_only_its_own(
    dev_services: Settings, schema: str, role: str, unreadable: tuple[str], writable: tuple[str]
) -> None:
    with psycopg.connect(role_dsn(dev_services, role), autocommit=True) as conn:
        names = tables(conn, schema)
        assert "order_tracking" in names and "inventory_level" in names
        assert set(unreadable) | set(writable) <= set(names)
        for name in names:
            table = sql.Identifier(schema, name)
            column = sql.Identifier(first_column(conn, schema, name))
            can_read = not refused(conn, sql.SQL("SELECT * FROM {} LIMIT 1").format(table))
            assert can_read == (name not in unreadable), name
            for statement in (*WRITES[1:], *OWNERS_ONLY):
                refusal = sql.SQL(statement).format(table, column=column)
                expected = name not in writable or statement in OWNERS_ONLY
                assert refused(conn, refusal) == expected, (statement, name)
            if name not in writable:
                assert refused(conn, sql.SQL(WRITES[0]).format(table)), name
        found = conn.execute("SELECT viewname FROM pg_views WHERE schemaname = %s", (schema,))
        views = [v for (v,) in found.fetchall()]
        assert "daily_sales" in views and "low_stock" in views
        for view in views:
            table = sql.Identifier(schema, view)
            assert not refused(conn, sql.SQL("SELECT * FROM {} LIMIT 1").format(table)), view
        assert refused(
            conn, sql.SQL("CREATE TABLE {}.intruder (x int)").format(sql.Identifier(schema))
        )
        if role == roles.ANALYST:
            assert refused(conn, sql.SQL("CREATE TEMP TABLE intruder (x int)"))
