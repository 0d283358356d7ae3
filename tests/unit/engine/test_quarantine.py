"""Finding the poison record: only record faults count, a batch is narrowed to one
record after repeated aborts, and that record is condemned after its own."""

from __future__ import annotations

from oms_events.engine.quarantine import Quarantine, record_fault
from oms_events.kafka.errors import KafkaError, KafkaTimeout, ProducerFenced, TransactionAborted
from oms_events.kafka.port import Record, TopicPartition

TOO_LARGE = TransactionAborted("MSG_SIZE_TOO_LARGE: ProduceRequest failed: Message size too large")


def rec(partition: int, offset: int) -> Record:
    return Record("t.cmd", partition, offset, b"k", b"v", [], 0)


def test_only_errors_that_blame_a_record_count() -> None:
    assert record_fault(TOO_LARGE)
    assert record_fault(KafkaError("INVALID_RECORD: Broker: Invalid record"))
    assert not record_fault(KafkaTimeout("no delivery report in 10 s"))
    assert not record_fault(ProducerFenced("PRODUCER_FENCED: fenced"))
    assert not record_fault(KafkaError("_TRANSPORT: Broker transport failure", retriable=True))


def test_an_outage_never_condemns_a_record() -> None:
    q = Quarantine(attempts=3, batch_size=10)
    for _ in range(10):
        q.failed([rec(0, 5)], KafkaTimeout("no delivery report"))
        q.failed([rec(0, 5), rec(0, 6)], KafkaError("_ALL_BROKERS_DOWN: down"))
    assert not q.single and q.condemned(rec(0, 5)) is None


def test_the_poison_record_is_found_and_condemned() -> None:
    q = Quarantine(attempts=3, batch_size=10)
    batch = {
        TopicPartition("t.cmd", 1): [rec(1, 7)],
        TopicPartition("t.cmd", 0): [rec(0, 4), rec(0, 5)],
    }
    for _ in range(3):
        q.failed([rec(0, 4), rec(0, 5), rec(1, 7)], TOO_LARGE)
    assert q.single
    narrowed, seeks = q.narrow(batch)
    assert narrowed == {TopicPartition("t.cmd", 0): [rec(0, 4)]}
    assert seeks == {TopicPartition("t.cmd", 0): 5, TopicPartition("t.cmd", 1): 7}
    q.committed([rec(0, 4)])  # the first one was good
    for attempt in range(3):
        assert q.condemned(rec(0, 5)) is None, attempt
        q.failed([rec(0, 5)], TOO_LARGE)
    assert "MSG_SIZE_TOO_LARGE" in (q.condemned(rec(0, 5)) or "")
    q.committed([rec(0, 5)])  # its dead letter went out
    assert q.condemned(rec(0, 5)) is None and q.single
