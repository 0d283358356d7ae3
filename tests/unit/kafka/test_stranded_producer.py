"""A transactional producer whose ``send_offsets_to_transaction`` outlives its timeout
(librdkafka #5456: the group coordinator request has no deadline, and a broker restart
can leave it waiting for good) is given up on, instead of holding its processor: the
broker-outage fault test once found an engine deciding nothing more for minutes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import confluent_kafka as ck
import pytest

from oms_events.kafka import confluent
from oms_events.kafka.confluent import ConfluentProducer
from oms_events.kafka.errors import KafkaError, KafkaTimeout
from oms_events.kafka.port import GroupMetadata, TopicPartition

GROUP = GroupMetadata("g", "member-1", object())
OFFSETS = {TopicPartition("t", 0): 5}


class Handle:
    """Stands in for librdkafka's producer handle: ``send_offsets_to_transaction`` answers
    ``answer`` once ``release`` is set (at once when it starts set)."""

    def __init__(self, answer: BaseException | None = None, stuck: bool = False) -> None:
        self.answer = answer
        self.release = threading.Event()
        if not stuck:
            self.release.set()
        self.closed = threading.Event()
        self.purged = False
        self.calls: list[str] = []

    def send_offsets_to_transaction(self, parts: Any, raw: Any, timeout: float) -> None:
        self.calls.append("send_offsets")
        self.release.wait(30)
        if self.answer is not None:
            raise self.answer

    def abort_transaction(self, timeout: float) -> None:
        self.calls.append("abort")

    def flush(self, timeout: float) -> int:
        return 0

    def purge(self) -> None:
        self.purged = True

    def close(self) -> None:
        self.closed.set()


@pytest.fixture(autouse=True)
def short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(confluent, "_STRANDED_GRACE_S", 0.05)


@pytest.fixture
def make() -> Iterator[Any]:
    """A transactional ConfluentProducer around a stand-in handle (never connected)."""
    made: list[ck.Producer] = []

    def build(handle: Handle) -> ConfluentProducer:
        producer = ConfluentProducer(
            {"bootstrap.servers": "127.0.0.1:1", "transactional.id": "stranded-test"}
        )
        made.append(producer._p)
        producer._p = handle  # type: ignore[assignment]
        return producer

    yield build
    for real in made:
        real.close()  # never connected, nothing queued: returns at once


def test_a_call_that_never_answers_gives_the_producer_up_within_its_timeout(make: Any) -> None:
    handle = Handle(stuck=True)
    producer = make(handle)
    began = time.monotonic()
    with pytest.raises(KafkaTimeout, match="#5456"):
        producer.send_offsets_to_transaction(OFFSETS, GROUP, timeout_s=0.2)
    assert time.monotonic() - began < 5
    # Given up on: every later call fails at once, without reaching librdkafka, and
    # close does not wait for the thread still inside it.
    with pytest.raises(KafkaError, match="given up on"):
        producer.abort_transaction(timeout_s=1)
    producer.close()
    assert handle.calls == ["send_offsets"] and not handle.closed.is_set()
    # If librdkafka ever answers, that thread releases the client (no one else may).
    handle.release.set()
    assert handle.closed.wait(5) and handle.purged


def test_an_answer_in_time_is_the_callers_and_keeps_the_producer(make: Any) -> None:
    producer = make(Handle())
    producer.send_offsets_to_transaction(OFFSETS, GROUP, timeout_s=5)
    refused = ck.KafkaException(ck.KafkaError(ck.KafkaError._TIMED_OUT, "coordinator away"))
    producer = make(Handle(answer=refused))
    with pytest.raises(KafkaTimeout, match="coordinator away"):
        producer.send_offsets_to_transaction(OFFSETS, GROUP, timeout_s=5)
    producer.abort_transaction(timeout_s=1)  # still usable: the caller aborts and goes on
