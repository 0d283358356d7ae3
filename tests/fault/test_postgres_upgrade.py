"""A data dir of an older `oms dev up` (socket trusted, one role oms/oms owning every
table) is upgraded by the next `oms dev up`: no trust, the roles of least privilege
with generated passwords, and the old tables reachable by them. A server of its own."""

from __future__ import annotations

import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from oms_events.devservices import postgres_roles as roles
from oms_events.devservices.postgres_server import PostgresServer
from oms_events.settings import Settings
from tests.ports import free_port

# What older versions wrote: initdb --auth-local=trust --auth-host=scram-sha-256.
OLD_HBA = "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"


@pytest.fixture
def old_server(settings: Settings) -> Iterator[tuple[Settings, PostgresServer]]:
    """A running server whose data dir looks as an older version left it."""
    port = free_port()
    home = Path(tempfile.mkdtemp(prefix="oms-pg-upgrade-"))
    home.chmod(0o755)  # the server runs as the postgres user (with root's group, as root)
    own = settings.replace(dev={"data_dir": home, "postgres_port": port})
    server = PostgresServer(own)
    server.start()
    try:
        server.psql(
            "DROP DATABASE oms;\n"
            + "".join(f"DROP ROLE {role};\n" for role in roles.ROLES)
            + "CREATE ROLE oms LOGIN PASSWORD 'oms';\nCREATE DATABASE oms OWNER oms;\n"
            + "GRANT ALL ON DATABASE postgres TO PUBLIC;\n"
        )
        server.psql(
            "SET ROLE oms;\nCREATE SCHEMA legacy;\n"
            "CREATE TABLE legacy.order_tracking (order_id text PRIMARY KEY);\n"
            "INSERT INTO legacy.order_tracking VALUES ('OMS-1');\n",
            database="oms",
        )
        (server.data / "pg_hba.conf").write_text(OLD_HBA)
        roles.passfile(home).unlink()
        server.run_dir.chmod(0o755)
        server.psql("SELECT pg_reload_conf()")
        with psycopg.connect(f"postgresql://oms:oms@127.0.0.1:{port}/oms") as conn:
            assert conn.execute("SELECT count(*) FROM legacy.order_tracking").fetchone() == (1,)
        yield own, server
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def test_oms_dev_up_upgrades_an_old_data_dir(
    old_server: tuple[Settings, PostgresServer],
) -> None:
    own, server = old_server
    server.stop()  # as a CI cache or a developer's machine keeps it
    assert server.start() is True
    home, port = own.dev.data_dir, own.dev.postgres_port

    assert "trust" not in (server.data / "pg_hba.conf").read_text()
    assert stat.S_IMODE(server.run_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(roles.passfile(home).stat().st_mode) == 0o600
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(f"postgresql://oms:oms@127.0.0.1:{port}/oms", connect_timeout=5)

    def as_role(role: str) -> psycopg.Connection:
        return psycopg.connect(roles.dsn(home, port, role), autocommit=True)

    with as_role(roles.MIGRATOR) as conn:
        owners = conn.execute(
            "SELECT (SELECT tableowner FROM pg_tables WHERE tablename = 'order_tracking'), "
            "pg_get_userbyid(datdba), (SELECT count(*) FROM pg_roles WHERE rolname = 'oms') "
            "FROM pg_database WHERE datname = 'oms'"
        ).fetchone()
        assert owners == (roles.MIGRATOR, roles.MIGRATOR, 0)
    with as_role(roles.WRITER) as conn:
        conn.execute("INSERT INTO legacy.order_tracking VALUES ('OMS-2')")
    with as_role(roles.ANALYST) as conn:
        assert conn.execute("SELECT count(*) FROM legacy.order_tracking").fetchone() == (2,)
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("DELETE FROM legacy.order_tracking")
