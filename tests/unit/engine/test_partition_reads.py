"""A rebuild's read of committed records ends, one way or the other: every record up to
the end it was asked for, or a KafkaTimeout when the fetch never comes (a partition's
leader gone and still cached: on the three-node cluster such a read polled nothing for
five minutes and the whole engine group waited on it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from oms_events.engine import partition
from oms_events.engine.partition import records_since
from oms_events.kafka.errors import KafkaTimeout
from oms_events.kafka.port import TopicPartition

TP = TopicPartition("oms.order.events", 2)


class Log:
    """One partition's committed records as a consumer would hand them out; ``serving``
    False is a fetch that never happens."""

    def __init__(self, end: int, serving: bool = True) -> None:
        self.end, self.serving, self.pos = end, serving, 0

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        pass

    def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, self.end)

    def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self.pos = 0

    def position(self, tp: TopicPartition) -> int:
        return self.pos

    def poll(self, timeout_ms: int, max_records: int | None = None) -> Mapping[Any, list[Any]]:
        if not self.serving or self.pos >= self.end:
            return {}
        records = [SimpleNamespace(offset=o) for o in range(self.pos, min(self.end, self.pos + 3))]
        self.pos = records[-1].offset + 1
        return {TP: records}


def test_every_record_up_to_the_end_is_read() -> None:
    read = [r.offset for r in records_since(Log(end=10), TP, None)]  # type: ignore[arg-type]
    assert read == list(range(10))


def test_a_read_that_gets_nothing_stops_with_a_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(partition, "READ_STALL_S", 0.2)
    with pytest.raises(KafkaTimeout, match=r"oms.order.events\[2\] read nothing .* offset 0 of 5"):
        list(records_since(Log(end=5, serving=False), TP, None))  # type: ignore[arg-type]
