"""The eventsourcing library's own recorder test cases, run unchanged against Kafka.

Only ``create_recorder`` is ours. The application log is a single partition
(``OMS_KAFKA_PARTITIONS=1``): notification ids are positions in it (see
``KafkaApplicationRecorder``). The suites write events of made-up classes
(``topic1``...), which go on the default type's topic in the StoredEvent envelope.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eventsourcing.persistence import AggregateRecorder, ApplicationRecorder
from eventsourcing.tests.persistence import (
    AggregateRecorderTestCase,
    ApplicationRecorderTestCase,
)
from eventsourcing.utils import Environment

from oms_events.eventstore import Factory, environment
from oms_events.settings import Settings
from tests.integration.conftest import drop_topics


class _KafkaStore:
    """Gives each test a factory over its own single-partition topics."""

    factory: Factory

    @pytest.fixture(autouse=True)
    def _factory(self, isolated: Settings) -> Iterator[None]:
        settings = isolated.replace(kafka={"partitions": 1})
        env = environment(
            settings, OMS_EVENTSTORE_TYPES="order", OMS_EVENTSTORE_DEFAULT_TYPE="order"
        )
        self.factory = Factory(Environment("conformance", env))
        yield
        self.factory.close()
        drop_topics(settings)


class TestKafkaAggregateRecorder(_KafkaStore, AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        return self.factory.aggregate_recorder()


class TestKafkaApplicationRecorder(_KafkaStore, ApplicationRecorderTestCase[ApplicationRecorder]):
    def create_recorder(self) -> ApplicationRecorder:
        return self.factory.application_recorder()

    def test_insert_subscribe(self) -> None:
        # The suite ships this one as optional_...; PostgreSQL's backend runs it so too.
        self.optional_test_insert_subscribe()
