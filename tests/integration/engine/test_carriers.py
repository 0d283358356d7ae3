"""Carriers on the real broker and database: two orders picked, packed and shipped by
their warehouse, then tracked by SF and ZTO pushes to delivered, in the projections;
a malformed push and an unknown waybill are dead-lettered while the adapter goes on,
and a ZTO push that beats its ship confirmation is held until the shipment is known."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from consumers import exceptions, tracking
from psycopg import sql

from oms_events import deadletter, topics
from oms_events.engine.runner import Engine
from oms_events.kafka.connection import producer
from oms_events.projection.migrate import migrate
from oms_events.projection.runner import Runner, connect
from oms_events.settings import Settings
from tests.integration.engine.harness import (
    CODEC,
    engine_settings,
    light,
    publish_orders,
    read_events,
    read_topic,
    receive,
    wait_for,
)
from tests.unit.engine.flow import place

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "carriers"
SF_WAYBILL, ZTO_WAYBILL = "SF1400012345678", "73100012345678"  # as in the fixtures


@pytest.fixture
def engine(isolated: Settings) -> Iterator[tuple[Settings, Engine]]:
    settings = engine_settings(light(isolated), waybill_wait_s=20)
    receive(settings, {("TEA", "SH"): 2})
    running = Engine(settings)
    running.start()
    assert wait_for(lambda: running.stock.available("TEA", "SH") == 2, 60, 0.2)
    yield settings, running
    running.stop()
    assert not running.failed()


@pytest.fixture
def schema(isolated: Settings) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(isolated.postgres.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def push(settings: Settings, name: str | bytes, key: str, fmt: str | None = None) -> None:
    body = name if isinstance(name, bytes) else (FIXTURES / name).read_bytes()
    p = producer(settings)
    headers = [("format", fmt.encode())] if fmt else []
    p.send(topics.name(settings, topics.CARRIER_UPDATES), body, key=key.encode(), headers=headers)
    p.flush()
    p.close()


def warehouse_ships(
    settings: Settings, allocation: dict[str, Any], carrier: str, waybill: str
) -> None:
    p = producer(settings)
    updates = topics.name(settings, topics.WAREHOUSE_UPDATES)
    for status in ("picked", "packed", "shipped"):
        shipped = status == "shipped"
        value = {
            "update_id": str(uuid.uuid4()),
            "shipment_id": allocation["shipment_id"],
            "location": allocation["location"],
            "status": status,
            "carrier": carrier if shipped else None,
            "tracking_no": waybill if shipped else None,
            "at": datetime.now(UTC),
        }
        encoded = CODEC.encode("oms.warehouse.WarehouseUpdate", value, topic=updates)
        p.send(updates, key=allocation["shipment_id"].encode(), value=encoded)
    p.flush()
    p.close()


def project(settings: Settings, schema: str) -> None:
    for projection in (tracking.PROJECTION, exceptions.PROJECTION):
        with connect(settings.postgres.dsn, schema, f"test-{projection.name}") as conn:
            migrate(conn, schema, [projection])
            runner = Runner(settings, projection, conn, batch_size=500)
            try:
                runner.catch_up()
            finally:
                runner.close()


def rows(pg: psycopg.Connection, schema: str, query: str) -> list[tuple[Any, ...]]:
    found = pg.execute(sql.SQL(query).format(s=sql.Identifier(schema))).fetchall()
    pg.rollback()
    return found


def test_sf_and_zto_pushes_deliver_orders_and_bad_pushes_are_dead_lettered(
    engine: tuple[Settings, Engine], schema: str, pg: psycopg.Connection
) -> None:
    settings, _ = engine
    # Placed long ago: the SF delivery (2026-11-29) is later than its 5-day promise.
    late = place("CAR-1", [("TEA", 1)], placed_at=datetime(2026, 11, 20, tzinfo=UTC))
    publish_orders(settings, [late, place("CAR-2", [("TEA", 1)])])
    allocations_topic = topics.name(settings, topics.ALLOCATIONS)
    assert wait_for(lambda: len(read_topic(settings, allocations_topic)) == 2, 60, 0.5)
    allocations = {
        a["order_no"]: a
        for a in (CODEC.decode(r.value or b"")[1] for r in read_topic(settings, allocations_topic))
    }

    # ZTO scans CAR-2's parcel before the warehouse's ship confirmation reaches us.
    push(settings, "zto_traces.json", ZTO_WAYBILL, "zto")
    push(settings, "bad_sf_time.json", "SF1400012345678", "sf")  # malformed: refused
    stray = {
        "format": "generic",
        "carrier": "SF",
        "tracking_no": "SF9999999999999",
        "status": "in_transit",
        "occurred_at": "2026-11-29T10:00:00+08:00",
    }
    push(settings, json.dumps(stray).encode(), "SF9999999999999")  # never shipped
    parked = topics.name(settings, topics.CARRIER_PARKED)

    def held() -> list[bytes | None]:
        return [r.value for r in read_topic(settings, parked) if (r.key or b"").startswith(b"ZTO|")]

    assert wait_for(lambda: len(held()) == 5, 30, 0.3)  # parked, not lost
    warehouse_ships(settings, allocations["SO-CAR-1"], "顺丰", SF_WAYBILL)
    warehouse_ships(settings, allocations["SO-CAR-2"], "ZTO", ZTO_WAYBILL)
    assert wait_for(
        lambda: [e.name for e in read_events(settings, "shipment")].count("ShipmentShipped") == 2,
        60,
        0.5,
    )
    push(settings, "sf_route_push.json", SF_WAYBILL)  # no header: SF by its shape

    def delivered() -> int:
        return [e.name for e in read_events(settings, "order")].count("OrderDelivered")

    assert wait_for(lambda: delivered() == 2, 60, 0.5)
    # The held ZTO scans were settled: a tombstone for each.
    assert wait_for(lambda: held()[5:] == [None] * 5, 30, 0.3)
    dead = topics.name(settings, topics.DEADLETTER)
    assert wait_for(lambda: len(read_topic(settings, dead)) == 2, 60, 0.5)
    letters = {
        x.reason.code: x for x in (deadletter.read(r.headers) for r in read_topic(settings, dead))
    }
    assert set(letters) == {"carrier.bad_time", "waybill.unknown"}
    assert letters["carrier.bad_time"].reason.field == "WaybillRoute[0].acceptTime"
    assert {x.processor for x in letters.values()} == {"engine.carrier"}

    project(settings, schema)
    orders = rows(
        pg, schema, "SELECT order_no, status, delivered_at FROM {s}.order_tracking ORDER BY 1"
    )
    assert [(o[0], o[1]) for o in orders] == [("SO-CAR-1", "delivered"), ("SO-CAR-2", "delivered")]
    assert orders[0][2] == datetime(2026, 11, 29, 7, 52, 8, tzinfo=UTC)  # SF's 80 scan
    parcels = rows(
        pg,
        schema,
        "SELECT tracking_no, status, signer, last_scan_location, failed_attempts"
        " FROM {s}.shipment_tracking ORDER BY 1",
    )
    assert parcels == [
        (ZTO_WAYBILL, "delivered", "本人", "上海 上海市 上海浦东", 0),
        (SF_WAYBILL, "delivered", "李雷", "上海市", 0),
    ]
    scans = rows(
        pg, schema, "SELECT tracking_no, status FROM {s}.shipment_scan ORDER BY occurred_at"
    )
    assert [s for w, s in scans if w == SF_WAYBILL] == [
        "in_transit",
        "in_transit",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    assert len([s for w, s in scans if w == ZTO_WAYBILL]) == 5  # held, then all applied
    kinds = rows(
        pg, schema, "SELECT kind, coalesce(order_no, code) FROM {s}.exception ORDER BY 1, 2"
    )
    assert ("late_delivery", "SO-CAR-1") in kinds
    assert {("dead_letter", "carrier.bad_time"), ("dead_letter", "waybill.unknown")} <= set(kinds)
