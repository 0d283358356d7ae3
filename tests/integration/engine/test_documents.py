"""Warehouse documents on the real broker and database: orders allocated to a location
get e-waybills when `oms docs pick` makes their wave; `oms docs labels` prints labels
whose barcodes and QR codes decode to exactly those waybills; `oms docs verify` refuses
a wrong parcel and packs a right one (ShipmentPacked)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from oms_events.engine.runner import Engine
from oms_events.projection.migrate import migrate
from oms_events.projection.registry import select
from oms_events.projection.runner import Runner, connect
from oms_events.settings import Settings
from tests.integration.engine.harness import (
    engine_settings,
    light,
    place_order,
    read_events,
    receive,
    send,
    wait_for,
)


@pytest.fixture
def schema(isolated: Settings) -> Iterator[str]:
    """A fresh PostgreSQL schema for the projections, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(isolated.postgres.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


class Projecting:
    """The tracking and warehouse projections running in a thread, as `oms project` would."""

    def __init__(self, settings: Settings, schema: str) -> None:
        self.stopped = threading.Event()
        self.runners: list[Runner] = []
        for p in select(["tracking", "warehouse"]):
            conn = connect(settings.postgres.dsn, schema, f"test-{p.name}")
            migrate(conn, schema, [p])
            self.runners.append(Runner(settings, p, conn, batch_size=200, max_wait=0.1))
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.is_set():
            for runner in self.runners:
                runner.step()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(30)
        for runner in self.runners:
            runner.close()
            runner.conn.close()


def oms(
    settings: Settings, schema: str, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run the ``oms`` CLI on these settings."""
    env = {
        **os.environ,
        "OMS_KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "OMS_KAFKA_TOPIC_PREFIX": settings.kafka.topic_prefix,
        "OMS_KAFKA_PARTITIONS": str(settings.kafka.partitions),
        "OMS_POSTGRES_DSN": settings.postgres.dsn,
        "OMS_PROJECTIONS_SCHEMA_NAME": schema,
        "OMS_WAREHOUSE_CARRIERS": '{"SH": "YTO"}',
        "LANG": "en_US.UTF-8",
        "COLUMNS": "200",
    }
    env.pop("LC_ALL", None)
    return subprocess.run(
        [sys.executable, "-m", "oms_events.cli.main", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def decoded(png: Path) -> list[str]:
    done = subprocess.run(["zbarimg", "--quiet", str(png)], capture_output=True, text=True)
    return sorted(done.stdout.split())


def test_pick_assigns_waybills_labels_print_them_and_verify_packs(
    isolated: Settings, schema: str, tmp_path: Path
) -> None:
    settings = light(isolated)
    receive(settings, {("TEA", "SH"): 10, ("CUP", "SH"): 10})
    engine = Engine(engine_settings(settings))
    engine.start()
    projecting = Projecting(settings, schema)
    try:
        # Orders are sourced from the engine's stock view: let it see the stock first.
        assert wait_for(lambda: engine.stock.available("CUP", "SH") == 10, 60, 0.2)
        assert wait_for(lambda: engine.stock.available("TEA", "SH") == 10, 60, 0.2)
        send(
            settings,
            [
                place_order(f"D-{uuid.uuid4().hex[:6]}", "TEA", quantity=2),
                place_order(f"D-{uuid.uuid4().hex[:6]}", "CUP", quantity=1),
            ],
        )

        def created() -> list[Any]:
            return [e for e in read_events(settings, "shipment") if e.name == "ShipmentCreated"]

        assert wait_for(lambda: len(created()) == 2, 90, 0.5)

        wave_pdf = tmp_path / "wave.pdf"
        done = oms(settings, schema, "docs", "pick", "--location", "SH", "-o", str(wave_pdf))
        assert done.returncode == 0, done.stderr
        assigned = {
            str(e.originator_id): e.payload["tracking_no"]
            for e in read_events(settings, "shipment")
            if e.name == "WaybillAssigned"
        }
        assert sorted(assigned) == sorted(str(e.originator_id) for e in created())
        # Standard orders from SH go with SH's carrier (OMS_WAREHOUSE_CARRIERS).
        assert all(n.startswith("YT") and len(n) == 15 for n in assigned.values())
        pick_text = subprocess.run(
            ["pdftotext", str(wave_pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert all(n in pick_text for n in assigned.values())

        wave = done.stdout.split(":")[0].strip()
        pack_pdf = tmp_path / "pack.pdf"
        done = oms(settings, schema, "docs", "pack", "--wave", wave, "-o", str(pack_pdf))
        assert done.returncode == 0, done.stderr
        pack_text = subprocess.run(
            ["pdftotext", str(pack_pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert all(n in pack_text for n in assigned.values()) and pack_text.count(wave) == 2

        labels_pdf = tmp_path / "labels.pdf"
        done = oms(settings, schema, "docs", "labels", "--location", "SH", "-o", str(labels_pdf))
        assert done.returncode == 0, done.stderr
        subprocess.run(
            ["pdftoppm", "-r", "203", "-png", str(labels_pdf), str(tmp_path / "l")], check=True
        )
        read = [decoded(page) for page in sorted(tmp_path.glob("l-*.png"))]
        assert sorted(read) == sorted([f"CODE-128:{n}", f"QR-Code:{n}"] for n in assigned.values())

        # The TEA parcel, scanned at the packing bench by its label's waybill.
        tea = next(str(e.originator_id) for e in created() if e.payload["lines"][0]["sku"] == "TEA")
        waybill = assigned[tea]
        wrong = oms(settings, schema, "docs", "verify", waybill, stdin="TEA\nCUP\n")
        assert wrong.returncode == 1
        assert (
            "CUP is not in this parcel" in wrong.stderr
            and "TEA: 1 scanned, 2 expected" in wrong.stderr
        )
        right = oms(settings, schema, "docs", "verify", waybill, "--scan", "TEA", "--scan", "TEA")
        assert right.returncode == 0, right.stderr
        assert wait_for(
            lambda: any(
                e.name == "ShipmentPacked" and str(e.originator_id) == tea
                for e in read_events(settings, "shipment")
            ),
            60,
            0.5,
        )
    finally:
        projecting.stop()
        engine.stop()
