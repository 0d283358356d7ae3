"""Both dev services together: what ``oms dev up/down/status`` and the test fixture call."""

from __future__ import annotations

from dataclasses import dataclass

from oms_events.devservices.kafka_broker import BrokerStatus, KafkaBroker
from oms_events.devservices.postgres_server import PostgresServer, PostgresStatus
from oms_events.settings import Settings


@dataclass(frozen=True)
class DevStatus:
    """Status of the local Kafka and PostgreSQL."""

    kafka: BrokerStatus
    postgres: PostgresStatus


def up(settings: Settings) -> tuple[bool, bool]:
    """Start PostgreSQL and Kafka unless they run; returns which ones were started."""
    settings.dev.data_dir.mkdir(parents=True, exist_ok=True)
    pg = PostgresServer(settings).start()
    kafka = KafkaBroker(settings).start()
    return kafka, pg


def down(settings: Settings, wipe: bool = False) -> tuple[bool, bool]:
    """Stop both (keeping data unless ``wipe``); returns which ones were running."""
    broker, pg = KafkaBroker(settings), PostgresServer(settings)
    kafka_ran = broker.stop()
    pg_ran = pg.stop()
    if wipe:
        broker.wipe()
        pg.wipe()
    return kafka_ran, pg_ran


def status(settings: Settings) -> DevStatus:
    """Where each service listens, its version, and whether it runs."""
    return DevStatus(KafkaBroker(settings).status(), PostgresServer(settings).status())
