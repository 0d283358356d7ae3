"""A real PostgreSQL server from Debian's packages, with its own data folder and
loopback port, the database ``oms`` and its least-privilege roles
(:mod:`oms_events.devservices.postgres_roles`).

Access: TCP on 127.0.0.1 only, every role with its password (SCRAM-SHA-256); the unix
socket, in a folder only the server's OS user may enter, admits the superuser alone,
by peer identity, for ``oms dev up``'s own administration. Nothing is trusted.

PostgreSQL refuses to run as root; when we are root its files belong to, and its
commands run as, the ``postgres`` system user that Debian's package creates.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from oms_events.devservices import postgres_roles as roles
from oms_events.devservices.process import ServiceError, port_open, tail
from oms_events.settings import Settings

PG_ROOT = Path("/usr/lib/postgresql")

# pg_hba.conf, rewritten by every `oms dev up` (an older data dir had `trust`).
HBA = """\
# Written by `oms dev up` (oms_events.devservices.postgres_server); edits are replaced.
# The socket: the superuser only, for the OS user that runs the server (pg_ident.conf).
local   all   postgres                  peer map=oms
# Loopback TCP: every role with its password; the server listens nowhere else.
host    all   all        127.0.0.1/32   scram-sha-256
"""


@dataclass(frozen=True)
class PostgresStatus:
    """What ``oms dev status`` shows for PostgreSQL."""

    running: bool
    pid: int | None
    dsn: str
    version: str
    log: Path
    roles: dict[str, str]  # role -> DSN (password in the password file)


def find_bindir() -> Path:
    """The newest installed server's bin folder (Debian puts each major version apart)."""
    candidates = sorted(
        (p for p in PG_ROOT.glob("*/bin") if (p / "postgres").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise ServiceError(
            "no PostgreSQL server found under /usr/lib/postgresql: install it with "
            "`apt-get install -y postgresql`"
        )
    return candidates[-1]


class PostgresServer:
    """The dev server's files and process, all under ``<data_dir>/postgres``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.dev.data_dir / "postgres"
        self.data = self.home / "data"
        self.run_dir = self.home / "run"
        self.log = self.home / "logs" / "postgresql.log"
        self.port = settings.dev.postgres_port
        self.user = "postgres" if os.geteuid() == 0 else None

    def _run(
        self, argv: list[str], check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            check=False,
            user=self.user,
            cwd=str(self.home) if self.home.exists() else "/",
            input=stdin,
        )
        if check and result.returncode != 0:
            raise ServiceError(
                f"{Path(argv[0]).name} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()}\nLast lines of {self.log}:\n"
                f"{tail(self.log)}"
            )
        return result

    def _prepare_dirs(self) -> None:
        for d in (self.home, self.run_dir, self.log.parent):
            d.mkdir(parents=True, exist_ok=True)
        # Only the server's OS user enters the socket's folder (it was 0755 before).
        self.run_dir.chmod(0o700)
        if self.user:
            entry = pwd.getpwnam(self.user)
            # Every parent must be traversable by the postgres user.
            for parent in [self.home, *self.home.parents]:
                if parent == Path("/"):
                    break
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o001)
            for root, _dirs, files in os.walk(self.home):
                os.chown(root, entry.pw_uid, entry.pw_gid)
                for name in files:
                    os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)

    def version(self) -> str:
        """The server's version, e.g. ``15.18``."""
        out = subprocess.run(
            [str(find_bindir() / "postgres"), "--version"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        match = re.search(r"(\d+(\.\d+)?)", out)
        return match.group(1) if match else out.strip()

    def initdb(self) -> None:
        """Create the cluster once; loopback only, passwords over TCP."""
        if (self.data / "PG_VERSION").exists():
            return
        bindir = find_bindir()
        self._prepare_dirs()
        self._run(
            [
                str(bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--auth-local=peer",
                "--auth-host=scram-sha-256",
            ]
        )
        conf = self.data / "postgresql.conf"
        with conf.open("a") as f:
            f.write("\ninclude_if_exists = 'oms.conf'\n")
        (self.data / "oms.conf").write_text(
            f"port = {self.port}\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{self.run_dir}'\n"
            "unix_socket_permissions = 0700\n"
            "password_encryption = 'scram-sha-256'\n"
            "max_connections = 200\n"
            "shared_buffers = 256MB\n"
            "wal_level = replica\n"
            "max_wal_size = 2GB\n"
            "log_min_duration_statement = 1000\n"
        )
        self._prepare_dirs()

    def pid(self) -> int | None:
        """The postmaster's pid when it runs."""
        pid_file = self.data / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return pid

    def _write_access(self) -> bool:
        """Write pg_hba.conf and pg_ident.conf; True if either changed."""
        os_user = self.user or pwd.getpwuid(os.geteuid()).pw_name
        ident = (
            "# Written by `oms dev up`: who may be the superuser on the socket.\n"
            f"oms   {os_user}   postgres\n"
        )
        changed = False
        for name, text in (("pg_hba.conf", HBA), ("pg_ident.conf", ident)):
            path = self.data / name
            if not path.exists() or path.read_text() != text:
                path.write_text(text)
                changed = True
        return changed

    def start(self) -> bool:
        """Start the server unless it runs, then ensure its access rules, the database and
        the roles (upgrading a data dir of an older version: trust, one role oms/oms)."""
        self.initdb()
        started = False
        access_changed = self._write_access()
        if self.pid() is None:
            if port_open(self.port):
                raise ServiceError(
                    f"port {self.port} is taken by another program; stop it or set "
                    "OMS_DEV_POSTGRES_PORT (the dev roles' DSNs follow it)"
                )
            self._prepare_dirs()
            self._run(
                [
                    str(find_bindir() / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.log),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            )
            started = True
        elif access_changed:
            self._prepare_dirs()
            self._run([str(find_bindir() / "pg_ctl"), "-D", str(self.data), "reload"])
        self._ensure_roles_and_database()
        return started

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` (a script) in ``database`` as the superuser, over the socket by
        peer identity; psql's unaligned output."""
        # The SQL goes on stdin, not argv: it carries passwords, and argv is public (ps).
        return self._run(
            [
                str(find_bindir() / "psql"),
                "-h",
                str(self.run_dir),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-tAX",
                "-v",
                "ON_ERROR_STOP=1",
                "-f",
                "-",
            ],
            stdin=sql,
        ).stdout.strip()

    def _ensure_roles_and_database(self) -> None:
        """Roles with the password file's passwords, the database owned by the migrator,
        and the grants; idempotent, so every `oms dev up` repairs what drifted."""
        passwords = roles.ensure_passwords(self.settings.dev.data_dir)
        statements = []
        for role in roles.ROLES:
            # Role names are our constants; passwords are URL-safe tokens (no quote).
            statements.append(
                f"SELECT 'CREATE ROLE {role}' WHERE NOT EXISTS "
                f"(SELECT FROM pg_roles WHERE rolname = '{role}') \\gexec\n"
                f"ALTER ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                f"NOBYPASSRLS PASSWORD '{passwords[role]}';"
            )
        self.psql("\n".join(statements))
        db = roles.DATABASE
        if self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{db}'") != "1":
            self.psql(f"CREATE DATABASE {db} OWNER {roles.MIGRATOR}")
        legacy = self.psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{roles.LEGACY_ROLE}'") == "1"
        if legacy:
            self._retire_legacy_role()
        self.psql(_GRANTS, database=db)
        if legacy:
            self.psql(_GRANTS_ON_EXISTING, database=db)

    def _retire_legacy_role(self) -> None:
        """Hand what the old single role ``oms`` owns to the migrator, then drop it."""
        old, new = roles.LEGACY_ROLE, roles.MIGRATOR
        self.psql(f"ALTER DATABASE {roles.DATABASE} OWNER TO {new}")
        for database in (roles.DATABASE, "postgres"):
            self.psql(f"REASSIGN OWNED BY {old} TO {new}; DROP OWNED BY {old};", database)
        self.psql(f"DROP ROLE {old}")

    def stop(self) -> bool:
        """Stop the server (fast shutdown: open transactions roll back). True if it ran."""
        if self.pid() is None:
            return False
        self._run([str(find_bindir() / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])
        return True

    def wipe(self) -> None:
        """Delete the cluster and its logs."""
        shutil.rmtree(self.home, ignore_errors=True)

    def status(self) -> PostgresStatus:
        """Whether it runs, its DSN and version."""
        pid = self.pid()
        return PostgresStatus(
            running=pid is not None and port_open(self.port),
            pid=pid,
            dsn=self.settings.postgres.dsn,
            version=self.version(),
            log=self.log,
            roles={
                role: roles.dsn(self.settings.dev.data_dir, self.port, role) for role in roles.ROLES
            },
        )


# Every `oms dev up`, in the database: who may connect, and the privileges every table
# the migrator creates from now on carries (so no migration has to know the roles).
_GRANTS = f"""
REVOKE ALL ON DATABASE {roles.DATABASE} FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE {roles.DATABASE} TO {roles.WRITER};
GRANT CONNECT ON DATABASE {roles.DATABASE} TO {roles.API}, {roles.ANALYST};
REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE {roles.MIGRATOR}
    GRANT USAGE ON SCHEMAS TO {roles.WRITER}, {roles.API}, {roles.ANALYST};
ALTER DEFAULT PRIVILEGES FOR ROLE {roles.MIGRATOR}
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {roles.WRITER};
ALTER DEFAULT PRIVILEGES FOR ROLE {roles.MIGRATOR}
    GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {roles.WRITER};
ALTER DEFAULT PRIVILEGES FOR ROLE {roles.MIGRATOR}
    GRANT SELECT ON TABLES TO {roles.API}, {roles.ANALYST};
"""

# Once, when a data dir of an older version is upgraded: its schemas and tables were
# made before the default privileges above, so they get the same grants explicitly
# (the API's tables as projections/042_api_grants.sql grants them).
_GRANTS_ON_EXISTING = f"""
DO $$
DECLARE s name;
BEGIN
    FOR s IN SELECT nspname FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner
             WHERE r.rolname = '{roles.MIGRATOR}' AND nspname <> 'public'
    LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO {roles.WRITER}, {roles.API}, '
                       '{roles.ANALYST}', s);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I '
                       'TO {roles.WRITER}', s);
        EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %I '
                       'TO {roles.WRITER}', s);
        EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO {roles.API}, '
                       '{roles.ANALYST}', s);
        IF to_regclass(format('%I.exception_resolution', s)) IS NOT NULL THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I.api_user, %I.api_key, '
                           '%I.api_command, %I.exception_resolution TO {roles.API}', s, s, s, s);
            EXECUTE format('REVOKE ALL ON %I.api_user, %I.api_key FROM {roles.ANALYST}', s, s);
        END IF;
    END LOOP;
END $$;
"""
