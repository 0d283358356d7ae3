"""Reading a whole topic the way a read_committed reader sees it, for assertions."""

from __future__ import annotations

import time

from oms_events.kafka.port import Consumer, Record, TopicPartition


def read_to_end(c: Consumer, topic: str, settle: float = 10.0) -> list[Record]:
    """Every record of ``topic`` that ``c`` (unsubscribed, its isolation chosen) sees,
    read up to the end of each partition, in log order per partition.

    A commit or abort returns once the transaction coordinator has decided; the markers
    reach the partitions after that (Kafka's TransactionCoordinator: "we can respond to
    the client immediately and continue to write the txn markers"), and until they do
    the last stable offset stops before the transaction's records. So the read waits, up
    to ``settle`` seconds, for the stable offset to pass what was on the log when it
    began: a read right after a commit sees that commit. A transaction left open longer
    (a killed writer's, until its timeout) keeps what it holds back hidden, as from any
    read_committed reader."""
    parts = [TopicPartition(topic, n) for n in sorted(c.partitions_for_topic(topic))]
    c.assign(parts)
    c.seek_to_beginning(*parts)
    on_log = c.end_offsets(parts, stable=False)
    settled_by = time.monotonic() + settle
    end = c.end_offsets(parts)
    while any(end[tp] < on_log[tp] for tp in parts) and time.monotonic() < settled_by:
        time.sleep(0.05)
        end = c.end_offsets(parts)
    records: list[Record] = []
    deadline = time.monotonic() + 30
    while any(c.position(tp) < end[tp] for tp in parts):
        assert time.monotonic() < deadline, f"the end of {topic} was never reached"
        for batch in c.poll(timeout_ms=500).values():
            records.extend(batch)
    return records
