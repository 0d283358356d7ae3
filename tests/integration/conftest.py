"""Integration fixtures: the real Kafka broker and PostgreSQL server.

They are started through the same code as `oms dev up` and reused when already
running, so a developer's running services serve the tests and CI starts its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from oms_events.devservices import services
from oms_events.settings import Settings

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def dev_services(settings: Settings) -> Settings:
    """Kafka and PostgreSQL up (started or reused); the settings that reach them."""
    services.up(settings)
    return settings


@pytest.fixture
def isolated(dev_services: Settings) -> Settings:
    """Settings whose topic names carry a unique prefix, so tests never share topics."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    return dev_services.model_copy(update={"topic_prefix": prefix})


@pytest.fixture
def pg(dev_services: Settings) -> Iterator[psycopg.Connection]:
    """A connection to the engine's database."""
    with psycopg.connect(dev_services.postgres_dsn) as conn:
        yield conn
