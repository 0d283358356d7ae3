"""Every order to its end (issue 15): a full-life simulation on the real broker and
PostgreSQL, engine running, the carrier simulator process delivering, then the audit of
`oms check life`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from oms_events import audit, topics
from oms_events.devservices.carrier_simulator import CarrierSimulatorProcess
from oms_events.engine.runner import Engine
from oms_events.engine.simulate import Plan, Simulation, Summary
from oms_events.projection.migrate import migrate
from oms_events.projection.registry import select
from oms_events.projection.runner import Runner, connect
from oms_events.settings import Settings
from tests.integration.engine.harness import (
    CODEC,
    engine_settings,
    light,
    log_stable,
    read_events,
    read_topic,
    wait_for,
)

# About 2 s: delivered orders complete.
RETURN_WINDOW_DAYS = 0.00002
PLAN = Plan(
    orders=240,
    channels=3,
    skus=6,
    locations=2,
    rate=120.0,
    life="full",
    cod_rate=0.25,
    cancel_rate=0.05,
    intercept_rate=0.04,
    return_rate=0.1,
    exchange_rate=0.04,
)


@dataclass
class Lived:
    settings: Settings
    sim: Simulation
    summary: Summary
    schema: str
    found: audit.Audit  # `oms check life --run <run>` in this process, once projected


def life_settings(dev_services: Settings, data_dir: Path) -> Settings:
    """Settings of one full life on topics of its own: carriers (the simulator process
    of ``oms dev up``, started on these topics) fast and failing often, return windows
    short, two partitions."""
    carriers = {
        # A parcel's two days on the road in about 1.7 s: time enough for a cancellation to
        # reach the carrier as an interception request while the parcel is on its way.
        "time_scale": 100_000.0,
        "failure_rate": 0.25,
        "lost_rate": 0.0,  # a lost parcel's order never ends, by design
        "seed": 7,
    }
    return light(
        dev_services.replace(
            kafka={"topic_prefix": f"t{uuid.uuid4().hex[:8]}."},
            dev={"data_dir": data_dir},
            carriersim=carriers,
            returns={"window_days": RETURN_WINDOW_DAYS},
        ),
        2,
    )


@contextmanager
def life_stage(settings: Settings) -> Iterator[str]:
    """The carrier simulator process on ``settings``' topics and a projection schema
    (yielded) for one life; both, and the topics, are gone afterwards."""
    from tests.integration.conftest import drop_topics

    schema = f"t_{uuid.uuid4().hex[:10]}"
    courier = CarrierSimulatorProcess(settings)
    courier.start()
    try:
        yield schema
    finally:
        courier.stop()
        with psycopg.connect(settings.postgres.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        drop_topics(settings)


def live(
    settings: Settings,
    schema: str,
    plan: Plan = PLAN,
    on_progress: Callable[[str, int, int], None] = lambda *_: None,
) -> Lived:
    """Simulate ``plan`` against the engine running on ``settings``, wait until the log
    is stable and the books settle, project the inventory and payments into ``schema``,
    and audit the run."""
    sim = Simulation(settings, CODEC, plan)
    summary = sim.run(on_progress, timeout=240)
    assert wait_for(lambda: log_stable(settings, "order", "inventory", "shipment"), 30, 0.5)
    # The last commits and scans may still be on their way through the processors:
    # wait (not asserted here) until what left agrees and every delivered parcel's
    # order heard of it, then project.
    run = f"SIM-{sim.run_id}-"
    # Up to two minutes on a loaded machine: parcels back at the warehouse still settle
    # their orders, and delivered ones complete when their 2 s window closes. (At a load
    # average of 200 one parcel was still on the road after one minute.)
    wait_for(lambda: settled(settings, run), 120, 0.5)
    for p in select(["inventory", "payments"]):
        with connect(settings.postgres.dsn, schema, f"test-{p.name}") as conn:
            migrate(conn, schema, [p])
            runner = Runner(settings, p, conn, batch_size=500)
            try:
                runner.catch_up()
            finally:
                runner.close()
    found = audit.audit_live(settings, CODEC, schema, run, run)
    return Lived(settings, sim, summary, schema, found)


@pytest.fixture(scope="module")
def lived(dev_services: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lived]:
    """One full-life simulation for the whole module (an engine start is the costly part),
    delivered by the carrier simulator process `oms dev up` starts, on this test's topics."""
    settings = life_settings(dev_services, tmp_path_factory.mktemp("dev"))
    with life_stage(settings) as schema:
        engine = Engine(engine_settings(settings))
        engine.start()
        try:
            yield live(settings, schema)
        finally:
            engine.stop()
    assert not engine.failed()


def settled(settings: Settings, run: str) -> bool:
    """True once the books of one run balance (events only) and every order is at an end:
    every parcel returned to sender is back and its order ended, every delivered order
    completed (its 2 s return window closed)."""
    found = audit.audit_live(settings, CODEC, None, run, run)
    return not found.problems


def test_every_order_is_decided_and_every_parcel_lives_to_an_end(lived: Lived) -> None:
    s = lived.summary
    assert s.carrier == "dev" and s.decided == PLAN.orders
    assert s.cancelled > 0 and s.parcels_shipped > PLAN.orders // 2
    # Without lost parcels every parcel handed over ends delivered or returned to sender.
    assert sum(s.parcels_ended.values()) == s.parcels_shipped
    assert s.parcels_ended["delivered"] > s.parcels_ended.get("returned_to_sender", 0)
    assert s.failed_attempts > 0 and s.cod_collected > 0


def test_the_carrier_pushes_are_lives_a_parcel_can_live(lived: Lived) -> None:
    pushes = read_topic(lived.settings, topics.name(lived.settings, topics.CARRIER_UPDATES))
    lives: dict[str, list[tuple[str, str]]] = defaultdict(list)
    formats = set()
    for r in pushes:
        assert r.key is not None and r.value is not None
        waybill, push = r.key.decode(), json.loads(r.value)
        fmt = dict(r.headers)["format"].decode()
        formats.add(fmt)
        if fmt == "generic":
            assert push["format"] == "generic" and push["tracking_no"] == waybill
            lives[waybill].append((push["occurred_at"], push["status"]))
        else:
            route = push["Body"]["WaybillRoute"][0]
            assert route["mailno"] == waybill
            lives[waybill].append((route["acceptTime"], route["opCode"]))
    assert formats == {"generic", "sf"}
    # Parcels to customers, and the units customers sent back.
    assert len(lives) == lived.summary.parcels_shipped + lived.summary.returns.shipped_back
    ends = {"delivered", "returned_to_sender", "80", "99"}
    for tracking_no, scans in lives.items():
        # One partition per waybill, so its scans are in the order they were pushed.
        assert scans[-1][1] in ends, (tracking_no, scans)
        assert sum(status in ends for _, status in scans) == 1, (tracking_no, scans)
        # Each format's times sort as text (ISO-8601 at +08:00; SF's Beijing wall clock).
        assert [t for t, _ in scans] == sorted(t for t, _ in scans), (tracking_no, scans)


def test_the_stock_books_balance_against_the_projection(lived: Lived) -> None:
    found = lived.found
    assert [p for p in found.problems if "order(s) not at an end" not in p] == []
    assert len(found.stock) == PLAN.skus * PLAN.locations
    assert sum(b.shipped for b in found.stock.values()) > 0
    # Every unit a customer sent back arrived; the resellable ones are on hand again.
    tally = lived.summary.returns
    assert tally.requested > 0 and tally.received == tally.requested
    # So are the units of parcels the carrier brought back (refused, undeliverable,
    # intercepted) once the warehouse has them again.
    restocked = tally.received - tally.damaged + lived.summary.units_back
    assert sum(b.restocked for b in found.stock.values()) == restocked


def test_every_order_is_at_an_end(lived: Lived) -> None:
    found = lived.found
    # The simulated orders and the replacement orders of their exchanges.
    assert len(found.orders) == PLAN.orders + lived.summary.returns.exchanges
    statuses = found.by_status()
    # The simulation counts its own orders; an exchange's replacement order may be
    # rejected too (no stock left for it).
    replacements = lived.summary.returns.exchanges
    assert statuses["cancelled"] == lived.summary.cancelled > 0
    assert lived.summary.rejected <= statuses["rejected"] <= lived.summary.rejected + replacements
    # Refunded returns end their orders; delivered, paid orders complete when their
    # (2 s) return window closes.
    assert statuses["returned"] > 0 and statuses["completed"] > 0
    # Delivered COD orders are paid by the courier's cash (CollectCod), parcel by parcel
    # when split, and complete too. An order whose every parcel came back to sender
    # (refused, three failed attempts) and is back at the warehouse ends
    # returned_to_sender; one with a parcel delivered too is delivered (the returned
    # lines refunded) and completes.
    assert statuses["returned_to_sender"] > 0
    open_ids = [oid for oid, status in found.orders.items() if status not in audit.TERMINAL]
    assert found.open_orders() == Counter(), story(lived.settings, open_ids[:3])


def story(settings: Settings, order_ids: list[str]) -> str:
    """What the log holds of each order: its events, the commands it was sent, and its
    parcels' events, commands and carrier pushes, in log order — what a failure in CI
    must print, since its services are gone afterwards."""
    shipment_events = read_events(settings, "shipment")
    order_events = read_events(settings, "order")
    commands = {
        t: read_topic(settings, topics.name(settings, topics.commands(t)))
        for t in ("order", "shipment")
    }
    pushes = read_topic(settings, topics.name(settings, topics.CARRIER_UPDATES))
    told: list[str] = []
    for oid in order_ids:
        told.append(f"order {oid}:")
        told += [
            f"  event {e.name} {e.payload}" for e in order_events if str(e.originator_id) == oid
        ]
        told += [
            f"  command {dict(r.headers).get('command', b'?').decode()}"
            for r in commands["order"]
            if r.key is not None and r.key.decode() == oid
        ]
        parcels = {
            str(e.originator_id)
            for e in shipment_events
            if e.name == "ShipmentCreated" and str(e.payload.get("order_id")) == oid
        }
        waybills = set()
        for sid in sorted(parcels):
            told.append(f"  shipment {sid}:")
            for e in shipment_events:
                if str(e.originator_id) == sid:
                    told.append(f"    event {e.name} {e.payload}")
                    if e.payload.get("tracking_no"):
                        waybills.add(str(e.payload["tracking_no"]))
            told += [
                f"    command {dict(r.headers).get('command', b'?').decode()}"
                for r in commands["shipment"]
                if r.key is not None and r.key.decode() == sid
            ]
        told += [
            f"  push {r.value.decode(errors='replace')}"
            for r in pushes
            if r.key is not None and r.value is not None and r.key.decode() in waybills
        ]
    return "\n".join(told)


def test_oms_check_life_prints_the_audit_and_fails_while_orders_are_open(lived: Lived) -> None:
    run = lived.sim.run_id
    s = lived.settings
    env = {
        **os.environ,
        "OMS_KAFKA_BOOTSTRAP_SERVERS": s.kafka.bootstrap_servers,
        "OMS_KAFKA_TOPIC_PREFIX": s.kafka.topic_prefix,
        "OMS_KAFKA_PARTITIONS": str(s.kafka.partitions),
        "OMS_POSTGRES_DSN": s.postgres.dsn,
        "COLUMNS": "160",
    }
    args = ["check", "life", "--run", run, "--schema", lived.schema]
    done = subprocess.run(
        [sys.executable, "-m", "oms_events.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = lived.found
    assert done.returncode == (1 if found.problems else 0), done.stderr
    assert f"stock: {PLAN.skus * PLAN.locations} (sku, location)" in done.stdout
    for status, n in found.open_orders().items():
        assert f"{n} order(s) not at an end: {status} (e.g. SIM-{run}-" in done.stdout


def test_every_interception_is_answered_by_the_carrier(lived: Lived) -> None:
    events = audit.read_events(lived.settings, CODEC, "shipment")
    asked = {e.originator_id for e in events if e.name == "InterceptionRequested"}
    answered = {
        e.originator_id
        for e in events
        if e.name in ("ShipmentReturned", "ShipmentDelivered") and e.originator_id in asked
    }
    # Asked once a parcel was on the road; the carrier brought it back (80%) or, too
    # late or not found in time, delivered it.
    assert asked and answered == asked
    returned = {e.originator_id for e in events if e.name == "ShipmentReturned"}
    assert asked & returned
