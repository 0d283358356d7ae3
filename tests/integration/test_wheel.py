"""The wheel is the product: built from the checkout, installed into a fresh virtualenv
outside it, its `oms` finds the topics, the schemas and the SQL it ships.

Run from a folder that holds no checkout, so nothing can be found through one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from oms_events.kafka.security import environment as kafka_environment
from oms_events.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
# What a work tree holds besides its sources: never part of a build.
LOCAL = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis")


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run ``argv``; fail with its output unless it exits 0; its stdout and stderr."""
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy of the work tree (links kept as links), so no build/ folder of
    # an earlier build can slip stale files in, and the checkout is left untouched.
    source = tmp_path_factory.mktemp("source") / "oms-events"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(*LOCAL))
    out = tmp_path_factory.mktemp("dist")
    log = run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(source)], cwd=out
    )
    # The build must not lean on anything setuptools deprecates (the license table did).
    assert "Deprecat" not in log and "deprecated" not in log, log
    (built,) = out.glob("oms_events-*.whl")
    return built


def test_the_wheel_holds_schemas_sql_and_lookup_tables(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for source, shipped in [
        ("schemas", "oms_events/resources/schemas"),
        ("projections", "oms_events/resources/projections"),
        ("src/oms_events/intake", "oms_events/intake"),
    ]:
        files = [
            p.relative_to(ROOT / source)
            for p in (ROOT / source).rglob("*")
            if p.suffix in (".avsc", ".sql", ".json")
        ]
        assert files, source
        missing = [str(f) for f in files if f"{shipped}/{f.as_posix()}" not in names]
        assert missing == [], f"{source} files not in the wheel: {missing[:5]}"
    assert "consumers/exceptions.py" in names
    console = ROOT / "src/oms_events/console/static"
    pages = [f"oms_events/console/static/{p.name}" for p in console.iterdir()]
    assert len(pages) >= 4 and set(pages) <= names, "the console's files are not in the wheel"
    assert not any(n.startswith(("tests/", "bench/")) for n in names)


def test_installed_wheel_runs_outside_the_checkout(
    wheel: Path, tmp_path: Path, dev_services: Settings
) -> None:
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    # --no-compile: byte-compiling every dependency was ~40 % of the install (75 s -> 43 s
    # without it); the modules `oms` imports compile as it runs.
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile"]
    run([*pip, "-c", str(ROOT / "constraints.txt"), str(wheel)], cwd=tmp_path)
    where = run(
        [str(venv / "bin" / "python"), "-c", "import oms_events; print(oms_events.__file__)"],
        cwd=tmp_path,
    )
    assert where.startswith(str(venv)), where

    oms = str(venv / "bin" / "oms")
    schema = f"wheel_{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMS_", "PYTHON"))}
    env.update(
        kafka_environment(dev_services),  # the admin's credentials: no dev data dir here
        OMS_KAFKA_BOOTSTRAP_SERVERS=dev_services.kafka.bootstrap_servers,
        OMS_POSTGRES_DSN=dev_services.postgres.dsn,
        OMS_KAFKA_TOPIC_PREFIX=f"t{uuid.uuid4().hex[:8]}.",
        COLUMNS="200",
    )
    listed = run([oms, "topics", "list"], cwd=tmp_path, env=env)
    assert f"{env['OMS_KAFKA_TOPIC_PREFIX']}oms.order.commands" in listed
    assert "all FULL compatible" in run([oms, "schemas", "check"], cwd=tmp_path, env=env)
    try:
        migrated = run([oms, "db", "migrate", "--schema", schema], cwd=tmp_path, env=env)
        assert "000_core.sql" in migrated and "003_exceptions.sql" in migrated
        with psycopg.connect(dev_services.postgres.dsn) as conn:
            tables = {
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                    (schema,),
                )
            }
        assert {"exception", "inventory_level", "schema_migration"} <= tables
    finally:
        with psycopg.connect(dev_services.postgres.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
