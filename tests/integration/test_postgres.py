"""The dev PostgreSQL server: reachable with the DSN that `oms dev status` prints."""

from __future__ import annotations

import subprocess
import uuid

import psycopg

from oms_events.settings import Settings


def test_postgres_round_trip(pg: psycopg.Connection) -> None:
    table = f"roundtrip_{uuid.uuid4().hex[:8]}"
    with pg.transaction():
        pg.execute(f"CREATE TEMP TABLE {table} (sku text PRIMARY KEY, on_hand int NOT NULL)")
        with pg.cursor() as cur:
            cur.executemany(f"INSERT INTO {table} VALUES (%s, %s)", [("SKU-茶-1", 5), ("SKU-2", 0)])
        rows = pg.execute(f"SELECT sku, on_hand FROM {table} ORDER BY sku").fetchall()
    assert rows == [("SKU-2", 0), ("SKU-茶-1", 5)]


def test_server_encoding_is_utf8_for_chinese_text(pg: psycopg.Connection) -> None:
    assert pg.execute("SHOW server_encoding").fetchone() == ("UTF8",)


def test_psql_connects_with_the_status_dsn(dev_services: Settings) -> None:
    out = subprocess.run(
        ["psql", dev_services.postgres.dsn, "-tAc", "SELECT current_user"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "oms"
