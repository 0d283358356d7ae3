"""The dev PostgreSQL server: reachable with the DSNs that `oms dev dsn` prints."""

from __future__ import annotations

import subprocess
import sys
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


def test_psql_connects_as_the_analyst_with_the_printed_dsn(dev_services: Settings) -> None:
    # The README's analyst example: psql "$(oms dev dsn analyst)".
    dsn = subprocess.run(
        [sys.executable, "-m", "oms_events.cli.main", "dev", "dsn", "analyst"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    out = subprocess.run(
        ["psql", dsn, "-tAc", "SELECT current_user"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "oms_analyst"
