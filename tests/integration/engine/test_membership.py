"""Group joins on the real broker: a rebalance is never lost, however short the polls.

Regression tests for the engine's test flake (see ``engine/membership.py``): with
kafka-python 3.0 alone, the second test leaves the member "rebalancing" forever with
its partitions revoked, and the first shows the needless second rebalance every
processor start used to make.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import NewPartitions, NewTopic
from kafka.consumer.subscription_state import ConsumerRebalanceListener

from oms_events.engine import membership
from oms_events.kafka.connection import admin, consumer
from oms_events.settings import Settings
from tests.integration.engine.harness import wait_for


class _Recorder(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.assigned: list[list[int]] = []

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        pass

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.assigned.append(sorted(tp.partition for tp in assigned))


@pytest.fixture
def topic(isolated: Settings) -> Iterator[str]:
    name = f"{isolated.kafka.topic_prefix}membership"
    client = admin(isolated)
    client.create_topics([NewTopic(name, 2, 1)])
    yield name
    client.delete_topics([name])
    client.close()


def _member(settings: Settings, topic: str, listener: _Recorder) -> KafkaConsumer:
    c = consumer(
        settings,
        group_id=f"{topic}.{uuid.uuid4().hex[:6]}",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        metadata_max_age_ms=500,  # metadata changes are noticed at once
    )
    wait_for(lambda: len(c.partitions_for_topic(topic) or ()) == 2, 30, 0.1)
    membership.subscribe(c, [topic], listener)
    return c


def _poll_like_the_processor(c: KafkaConsumer, timeout_ms: int, work_s: float = 0.0) -> bool:
    """A poll (a short one, like a linger poll), some work (a batch's transaction), then
    finish any join the poll started, as the processor's _collect does. True when no
    join is left pending; False when one is stuck (bounded, so a regression fails)."""
    c.poll(timeout_ms=timeout_ms)
    time.sleep(work_s)
    deadline = time.monotonic() + 15
    while membership.joining(c) and time.monotonic() < deadline:
        c.poll(timeout_ms=200, max_records=1)
    return not membership.joining(c)


def test_the_first_assignment_is_final(isolated: Settings, topic: str) -> None:
    listener = _Recorder()
    c = _member(isolated, topic, listener)
    try:
        assert wait_for(lambda: _poll_like_the_processor(c, 200) and bool(listener.assigned), 30, 0)
        # Long enough for several metadata refreshes, each of which used to rebalance.
        until = time.monotonic() + 2
        while time.monotonic() < until:
            _poll_like_the_processor(c, 200)
        assert listener.assigned == [[0, 1]]
        assert c.group_metadata().generation_id == 1
    finally:
        c.close()


def test_a_rebalance_started_by_a_short_poll_completes(isolated: Settings, topic: str) -> None:
    listener = _Recorder()
    c = _member(isolated, topic, listener)
    client = admin(isolated)
    try:
        assert wait_for(lambda: _poll_like_the_processor(c, 200) and bool(listener.assigned), 30, 0)
        # More partitions: the leader's metadata snapshot changes, which is the rejoin
        # kafka-python lost when the poll that started it returned before SyncGroup
        # and the join finished while the member was busy between polls.
        client.create_partitions({topic: NewPartitions(4)})
        assert wait_for(
            lambda: _poll_like_the_processor(c, 1, 0.3) and listener.assigned[-1] == [0, 1, 2, 3],
            30,
            0.05,
        ), listener.assigned
        assert not membership.joining(c)
    finally:
        client.close()
        c.close()
