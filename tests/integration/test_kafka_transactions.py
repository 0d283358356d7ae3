"""Kafka transactions on the single-node dev broker: what exactly-once rests on."""

from __future__ import annotations

import uuid

from kafka.admin import NewTopic

from oms_events.kafka.connection import admin, consumer, producer
from oms_events.settings import Settings


def _topic(settings: Settings, partitions: int = 1) -> str:
    name = f"{settings.kafka.topic_prefix}tx-{uuid.uuid4().hex[:8]}"
    client = admin(settings)
    try:
        client.create_topics([NewTopic(name, partitions, 1)], wait_for_metadata=True)
    finally:
        client.close()
    return name


def _read_all(settings: Settings, topic: str, isolation: str) -> list[bytes]:
    c = consumer(
        settings, topic, group_id=None, isolation_level=isolation, consumer_timeout_ms=3000
    )
    try:
        return [m.value for m in c]
    finally:
        c.close()


def test_committed_transaction_is_read_back_by_read_committed_consumer(isolated: Settings) -> None:
    topic = _topic(isolated)
    p = producer(isolated, transactional_id=f"test-{uuid.uuid4()}")
    p.init_transactions()
    p.begin_transaction()
    for i in range(3):
        p.send(topic, key=b"order-1", value=f"event-{i}".encode())
    p.commit_transaction()
    p.close()
    assert _read_all(isolated, topic, "read_committed") == [b"event-0", b"event-1", b"event-2"]


def test_aborted_transaction_is_never_seen_by_read_committed_consumer(isolated: Settings) -> None:
    topic = _topic(isolated)
    p = producer(isolated, transactional_id=f"test-{uuid.uuid4()}")
    p.init_transactions()
    p.begin_transaction()
    p.send(topic, value=b"aborted")
    p.flush()  # the record is on the log, only its transaction marker decides
    p.abort_transaction()
    p.begin_transaction()
    p.send(topic, value=b"committed")
    p.commit_transaction()
    p.close()
    assert _read_all(isolated, topic, "read_committed") == [b"committed"]
    # The aborted record really reached the broker: an uncommitted reader sees it.
    assert b"aborted" in _read_all(isolated, topic, "read_uncommitted")


def test_consumed_offsets_commit_atomically_with_produced_records(isolated: Settings) -> None:
    source, sink = _topic(isolated), _topic(isolated)
    group = f"g-{uuid.uuid4().hex[:8]}"
    p = producer(isolated)
    for i in range(5):
        p.send(source, value=str(i).encode())
    p.flush()
    p.close()

    c = consumer(isolated, source, group_id=group, consumer_timeout_ms=5000)
    tx = producer(isolated, transactional_id=f"test-{uuid.uuid4()}")
    tx.init_transactions()
    batch = []
    for m in c:
        batch.append(m)
        if len(batch) == 5:
            break
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata

    tx.begin_transaction()
    for m in batch:
        tx.send(sink, value=m.value + b"!")
    tp = TopicPartition(source, 0)
    # Group metadata (generation, member id) lets the broker fence a stale consumer (KIP-447).
    tx.send_offsets_to_transaction(
        {tp: OffsetAndMetadata(batch[-1].offset + 1, "", -1)}, c.group_metadata()
    )
    tx.commit_transaction()
    tx.close()
    c.close()

    assert _read_all(isolated, sink, "read_committed") == [b"0!", b"1!", b"2!", b"3!", b"4!"]
    check = consumer(isolated, group_id=group)
    assert check.committed(tp) == 5
    check.close()
