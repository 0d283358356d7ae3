"""The dev services together (Kafka, PostgreSQL, the payment sandboxes, the carrier
simulator): what ``oms dev up/down/status`` and the test fixture call."""

from __future__ import annotations

import fcntl
from dataclasses import dataclass

from oms_events.devservices.carrier_simulator import CarrierSimStatus, CarrierSimulatorProcess
from oms_events.devservices.kafka_broker import ClusterStatus, KafkaCluster
from oms_events.devservices.payment_sandboxes import PaymentSandboxes, SandboxStatus
from oms_events.devservices.postgres_server import PostgresServer, PostgresStatus
from oms_events.kafka.acls import apply_acls
from oms_events.kafka.security import as_admin
from oms_events.settings import Settings


@dataclass(frozen=True)
class DevStatus:
    """Status of the local Kafka, PostgreSQL, payment sandboxes and carrier simulator."""

    kafka: ClusterStatus
    postgres: PostgresStatus
    payments: SandboxStatus
    carriers: CarrierSimStatus


def up(settings: Settings, brokers: int | None = None) -> tuple[bool, bool, bool, bool]:
    """Start PostgreSQL, Kafka (``brokers`` nodes, default ``settings.dev.kafka_brokers``
    or as its data dir was formatted), the payment sandboxes and the carrier simulator
    unless they run; returns which ones were started (kafka, postgres, payments, carriers)."""
    settings.dev.data_dir.mkdir(parents=True, exist_ok=True)
    # One starter at a time: two `oms dev up`, or the test workers of a parallel run,
    # would both see "not running" and start a second broker on the same data dir.
    with (settings.dev.data_dir / "up.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        pg = PostgresServer(settings).start()
        cluster = KafkaCluster(settings, brokers)
        if cluster.formatted_nodes() is not None and not cluster.secured():
            # A PLAINTEXT cluster about to be secured: its simulator would be refused.
            CarrierSimulatorProcess(settings).stop()
        kafka = cluster.start()
        if kafka:  # principals and rules added since are written at the next start
            cluster.add_principals()
            apply_acls(as_admin(settings))
        payments = PaymentSandboxes(settings).start()
        carriers = CarrierSimulatorProcess(settings).start()  # a Kafka client: after Kafka
    return kafka, pg, payments, carriers


def down(settings: Settings, wipe: bool = False) -> tuple[bool, bool, bool, bool]:
    """Stop them all (keeping data unless ``wipe``); returns which ones were running."""
    broker, pg = KafkaCluster(settings), PostgresServer(settings)
    carriers_ran = CarrierSimulatorProcess(settings).stop()
    payments_ran = PaymentSandboxes(settings).stop()
    kafka_ran = broker.stop()
    pg_ran = pg.stop()
    if wipe:
        broker.wipe()
        pg.wipe()
    return kafka_ran, pg_ran, payments_ran, carriers_ran


def status(settings: Settings) -> DevStatus:
    """Where each service listens, its version, and whether it runs."""
    return DevStatus(
        KafkaCluster(settings).status(),
        PostgresServer(settings).status(),
        PaymentSandboxes(settings).status(),
        CarrierSimulatorProcess(settings).status(),
    )
