"""A real PostgreSQL server from Debian's packages, with its own data folder and
loopback port, and a role and database for the engine (taken from OMS_POSTGRES_DSN).

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

from psycopg.conninfo import conninfo_to_dict

from oms_events.devservices.process import ServiceError, port_open, tail
from oms_events.settings import Settings

PG_ROOT = Path("/usr/lib/postgresql")


@dataclass(frozen=True)
class PostgresStatus:
    """What ``oms dev status`` shows for PostgreSQL."""

    running: bool
    pid: int | None
    dsn: str
    version: str
    log: Path


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
        info = conninfo_to_dict(settings.postgres.dsn)
        self.role = str(info.get("user") or "oms")
        self.password = str(info.get("password") or "oms")
        self.database = str(info.get("dbname") or "oms")
        self.user = "postgres" if os.geteuid() == 0 else None

    def _run(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            check=False,
            user=self.user,
            cwd=str(self.home) if self.home.exists() else "/",
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
                "--auth-local=trust",
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

    def start(self) -> bool:
        """Start the server unless it runs, then ensure the engine's role and database."""
        self.initdb()
        started = False
        if self.pid() is None:
            if port_open(self.port):
                raise ServiceError(
                    f"port {self.port} is taken by another program; stop it or set "
                    "OMS_DEV_POSTGRES_PORT and OMS_POSTGRES_DSN"
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
        self._ensure_role_and_database()
        return started

    def _psql(self, sql: str, database: str = "postgres") -> str:
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
                "-c",
                sql,
            ]
        ).stdout.strip()

    def _ensure_role_and_database(self) -> None:
        role = self.role.replace('"', '""')
        password = self.password.replace("'", "''")
        if self._psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{self.role}'") != "1":
            self._psql(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'")
        if self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'") != "1":
            self._psql(f'CREATE DATABASE "{self.database}" OWNER "{role}"')

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
        )
