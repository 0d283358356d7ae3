"""The dev services together (Kafka, PostgreSQL, the payment sandboxes): what
``oms dev up/down/status`` and the test fixture call."""

from __future__ import annotations

from dataclasses import dataclass

from oms_events.devservices.kafka_broker import BrokerStatus, KafkaBroker
from oms_events.devservices.payment_sandboxes import PaymentSandboxes, SandboxStatus
from oms_events.devservices.postgres_server import PostgresServer, PostgresStatus
from oms_events.settings import Settings


@dataclass(frozen=True)
class DevStatus:
    """Status of the local Kafka, PostgreSQL and payment sandboxes."""

    kafka: BrokerStatus
    postgres: PostgresStatus
    payments: SandboxStatus


def up(settings: Settings) -> tuple[bool, bool, bool]:
    """Start PostgreSQL, Kafka and the payment sandboxes unless they run; returns which
    ones were started (kafka, postgres, payments)."""
    settings.dev.data_dir.mkdir(parents=True, exist_ok=True)
    pg = PostgresServer(settings).start()
    kafka = KafkaBroker(settings).start()
    payments = PaymentSandboxes(settings).start()
    return kafka, pg, payments


def down(settings: Settings, wipe: bool = False) -> tuple[bool, bool, bool]:
    """Stop them all (keeping data unless ``wipe``); returns which ones were running."""
    broker, pg = KafkaBroker(settings), PostgresServer(settings)
    payments_ran = PaymentSandboxes(settings).stop()
    kafka_ran = broker.stop()
    pg_ran = pg.stop()
    if wipe:
        broker.wipe()
        pg.wipe()
    return kafka_ran, pg_ran, payments_ran


def status(settings: Settings) -> DevStatus:
    """Where each service listens, its version, and whether it runs."""
    return DevStatus(
        KafkaBroker(settings).status(),
        PostgresServer(settings).status(),
        PaymentSandboxes(settings).status(),
    )
