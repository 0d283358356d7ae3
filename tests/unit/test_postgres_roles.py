"""The dev PostgreSQL's roles: generated passwords in a private libpq password file,
and DSNs that name it instead of carrying the secret; the settings fill the DSNs the
environment leaves unset."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from oms_events.devservices import postgres_roles as roles
from oms_events.settings import Settings


def test_passwords_are_generated_once_into_a_private_file(tmp_path: Path) -> None:
    first = roles.ensure_passwords(tmp_path)
    assert set(first) == set(roles.ROLES)
    assert len(set(first.values())) == len(roles.ROLES)
    assert all(len(p) >= 32 and ":" not in p and "\\" not in p for p in first.values())
    path = roles.passfile(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    path.chmod(0o644)  # loosened by hand: libpq would ignore it, so it is repaired
    assert roles.ensure_passwords(tmp_path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_dsn_names_the_password_file_or_carries_the_password(tmp_path: Path) -> None:
    info = conninfo_to_dict(roles.dsn(tmp_path, 15432, roles.ANALYST))
    assert info["user"] == roles.ANALYST and info["port"] == "15432"
    assert info["passfile"] == str(roles.passfile(tmp_path)) and "password" not in info
    inline = conninfo_to_dict(roles.dsn(tmp_path, 15432, roles.ANALYST, password="a/b@c"))
    assert inline["password"] == "a/b@c" and "passfile" not in inline


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("DSN", "MIGRATOR_DSN", "ANALYST_DSN"):
        monkeypatch.delenv(f"OMS_POSTGRES_{name}", raising=False)
    monkeypatch.setenv("OMS_DEV_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OMS_DEV_POSTGRES_PORT", "15432")
    return tmp_path


def test_unset_dsns_are_the_dev_roles(clean_env: Path) -> None:
    pg = Settings().postgres
    assert pg.dsn == roles.dsn(clean_env, 15432, roles.WRITER)
    assert pg.migrator_dsn == roles.dsn(clean_env, 15432, roles.MIGRATOR)
    assert pg.analyst_dsn == roles.dsn(clean_env, 15432, roles.ANALYST)


def test_a_database_you_bring_serves_every_role_unless_told_otherwise(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMS_POSTGRES_DSN", "postgresql://app:s3cret@db:5432/shop")
    monkeypatch.setenv("OMS_POSTGRES_ANALYST_DSN", "postgresql://bi:x@db:5432/shop")
    pg = Settings().postgres
    assert pg.migrator_dsn == pg.dsn == "postgresql://app:s3cret@db:5432/shop"
    assert pg.analyst_dsn == "postgresql://bi:x@db:5432/shop"


def test_config_show_prints_a_dev_dsn_whole_as_it_holds_no_password(clean_env: Path) -> None:
    shown = {e.name: e.shown() for e in Settings().entries()}
    assert shown["postgres.analyst_dsn"] == roles.dsn(clean_env, 15432, roles.ANALYST)
