"""The library's own example application (BankAccounts, with snapshots) on the Kafka store.

Configured only as the README says: ``PERSISTENCE_MODULE=oms_events.eventstore`` plus
the Kafka settings. ``OMS_EVENTSTORE_DEFAULT_TYPE`` is deliberately not set: classes
the project does not know go on the documented default type's topics
(``oms.app.events`` / ``oms.app.snapshots``), created on demand. The example reads
the notification log, a position on one partition: so one partition, and the store
keeps only the application's type (``OMS_EVENTSTORE_TYPES=app``), as the README says.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from eventsourcing.tests import application as library  # module: pytest must not collect it

from oms_events import topics
from oms_events.kafka.connection import admin
from oms_events.settings import Settings


class TestExampleApplicationOnKafka(library.ExampleApplicationTestCase):
    expected_factory_topic = "oms_events.eventstore.factory:KafkaFactory"

    @pytest.fixture(autouse=True)
    def _environment(self, isolated: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        monkeypatch.delenv("OMS_EVENTSTORE_DEFAULT_TYPE", raising=False)
        monkeypatch.setenv("PERSISTENCE_MODULE", "oms_events.eventstore")
        monkeypatch.setenv("OMS_KAFKA_BOOTSTRAP_SERVERS", isolated.kafka.bootstrap_servers)
        monkeypatch.setenv("OMS_KAFKA_TOPIC_PREFIX", isolated.kafka.topic_prefix)
        monkeypatch.setenv("OMS_KAFKA_PARTITIONS", "1")
        monkeypatch.setenv("OMS_EVENTSTORE_TYPES", "app")
        self.settings = isolated
        yield

    def test_example_application(self) -> None:
        super().test_example_application()
        # The events really went to the default type's topics on the broker.
        client = admin(self.settings)
        try:
            names = set(client.list_topics())
        finally:
            client.close()
        assert topics.name(self.settings, topics.events("app")) in names
        assert topics.name(self.settings, topics.snapshots("app")) in names


def test_the_readme_example_saves_with_no_store_settings(
    isolated: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README: ``PERSISTENCE_MODULE=oms_events.eventstore`` plus the Kafka settings, and
    an application of classes the project does not know saves and reads back."""
    monkeypatch.delenv("OMS_EVENTSTORE_DEFAULT_TYPE", raising=False)
    monkeypatch.delenv("OMS_EVENTSTORE_TYPES", raising=False)
    monkeypatch.setenv("PERSISTENCE_MODULE", "oms_events.eventstore")
    monkeypatch.setenv("OMS_KAFKA_BOOTSTRAP_SERVERS", isolated.kafka.bootstrap_servers)
    monkeypatch.setenv("OMS_KAFKA_TOPIC_PREFIX", isolated.kafka.topic_prefix)
    app = library.BankAccounts()
    try:
        account_id = app.open_account("Alice", "alice@example.com")
        app.credit_account(account_id, Decimal("10.00"))
        assert app.get_balance(account_id) == Decimal("10.00")
    finally:
        app.close()
