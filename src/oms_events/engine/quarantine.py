"""Finding the one record that makes every transaction fail, and setting it aside.

A record can fail its batch's Kafka transaction for its own sake: an event larger than
the topic's ``max.message.bytes`` (set lower than ``kafka.max_record_bytes``), a record
the broker calls invalid. Aborting and retrying the batch would fail the same way on
every restart, the whole partition stalled behind it. So:

* after ``attempts`` transactions in a row aborted for a record's fault, the processor
  goes one record per transaction for as many records as a batch holds;
* a record whose own transaction aborts ``attempts`` times for such a fault is poison:
  its next transaction carries only its dead letter (``record.poison``) and its offset;
* errors that say nothing about a record (timeouts, a broker away, fencing, a
  rebalance) never count: a good command is never dead-lettered for an outage.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from oms_events.kafka.port import Record, TopicPartition

# librdkafka's names and kafka-python's class names of errors that blame a record,
# compared without case or underscores.
_RECORD_FAULTS = (
    "msgsizetoolarge",
    "messagesizetoolarge",
    "recordlisttoolarge",
    "invalidrecord",
    "corruptmessage",
    "corruptrecord",
)

Batch = dict[TopicPartition, list[Record]]
Key = tuple[str, int, int]


def record_fault(error: BaseException) -> bool:
    """True when ``error`` blames a record rather than the broker, the network or the group."""
    text = f"{type(error).__name__} {error}".lower().replace("_", "")
    return any(name in text for name in _RECORD_FAULTS)


def _key(record: Record) -> Key:
    return (record.topic, record.partition, record.offset)


class Quarantine:
    """The bookkeeping of one processor: aborts in a row, the single-record mode, the
    strikes of each suspect and the records found to be poison."""

    def __init__(self, attempts: int, batch_size: int) -> None:
        self.attempts = attempts
        self.batch_size = batch_size
        self.faults = 0  # whole batches aborted in a row for a record's fault
        self.single_left = 0  # transactions still to run with a single record
        self.strikes: Counter[Key] = Counter()
        self.poison: dict[Key, str] = {}  # record -> the error that condemned it

    @property
    def single(self) -> bool:
        """True while transactions hold one record each."""
        return self.single_left > 0

    def narrow(self, batch: Batch) -> tuple[Batch, dict[TopicPartition, int]]:
        """The batch's first record alone, and where each partition must be read from
        again (the consumer's position has passed the records left out)."""
        tps = sorted((tp for tp, rs in batch.items() if rs), key=lambda t: (t.topic, t.partition))
        if not tps:
            return batch, {}
        first = batch[tps[0]][0]
        seeks = {tp: batch[tp][0].offset for tp in tps[1:]}
        seeks[tps[0]] = first.offset + 1
        return {tps[0]: [first]}, seeks

    def condemned(self, record: Record) -> str | None:
        """The error that made ``record`` poison, or None for a record to handle."""
        return self.poison.get(_key(record))

    def failed(self, records: Sequence[Record], error: BaseException) -> None:
        """A transaction holding ``records`` aborted with ``error``."""
        if not record_fault(error) or not records:
            return
        if len(records) == 1:
            key = _key(records[0])
            self.strikes[key] += 1
            if self.strikes[key] >= self.attempts:
                self.poison[key] = f"{type(error).__name__}: {error}"
            return
        self.faults += 1
        if self.faults >= self.attempts:
            self.faults = 0
            self.single_left = self.batch_size

    def committed(self, records: Sequence[Record]) -> None:
        """A transaction holding ``records`` committed."""
        if self.single:
            self.single_left -= 1
        else:
            self.faults = 0
        for record in records:
            self.poison.pop(_key(record), None)
            self.strikes.pop(_key(record), None)
