"""Integration fixtures: the real Kafka broker and PostgreSQL server.

They are started through the same code as `oms dev up` and reused when already
running, so a developer's running services serve the tests and CI starts its own.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from oms_events.devservices import services
from oms_events.kafka.connection import admin
from oms_events.kafka.errors import KafkaError
from oms_events.kafka.security import with_credentials
from oms_events.settings import Settings

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def dev_services(settings: Settings) -> Settings:
    """Kafka and PostgreSQL up (started or reused); the settings that reach them, as
    the Kafka admin principal (its credentials written in: tests that move the dev
    data dir elsewhere keep reaching this cluster).

    The tests make a schema each (and migrate, replay and drop it), which is the
    migrator's work: their run-time DSN is the migrator's. The run-time role's limits
    are shown by tests/integration/test_postgres_roles.py.
    """
    services.up(settings)
    return with_credentials(settings.replace(postgres={"dsn": settings.postgres.migrator_dsn}))


@pytest.fixture(scope="session")
def runtime_dsn(settings: Settings, dev_services: Settings) -> str:
    """The run-time role's DSN as the environment gives it (the dev role oms_writer unless
    OMS_POSTGRES_DSN is set), for tests that apply projections as `oms project` does."""
    return settings.postgres.dsn


def drop_topics(settings: Settings) -> None:
    """Delete every topic carrying this settings' prefix.

    Each test creates up to ~30 topics; left behind, a few hundred test runs hold
    enough partition files open to exhaust the broker's file limit.
    """
    client = admin(settings)
    try:
        names = [n for n in client.list_topics() if n.startswith(settings.kafka.topic_prefix)]
        if names:
            with contextlib.suppress(KafkaError):
                client.delete_topics(names)
    finally:
        client.close()


@pytest.fixture
def isolated(dev_services: Settings) -> Iterator[Settings]:
    """Settings whose topic names carry a unique prefix, so tests never share topics;
    the topics are deleted after the test."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    settings = dev_services.replace(kafka={"topic_prefix": prefix})
    yield settings
    drop_topics(settings)


@pytest.fixture
def pg(dev_services: Settings) -> Iterator[psycopg.Connection]:
    """A connection to the engine's database."""
    with psycopg.connect(dev_services.postgres.dsn) as conn:
        yield conn
