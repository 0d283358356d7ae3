"""A ListOffsets answer without an offset (OFFSET_INVALID, -1001) is asked again over a
fresh admin client, never returned as an offset: taken as a last stable offset it once
held a rebuilding processor for ever "waiting for an open transaction" (lso -1001) after
a broker was killed, and a read to the end would have stopped before it began."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any, ClassVar

import confluent_kafka as ck
import pytest

from oms_events.kafka import confluent
from oms_events.kafka.confluent import ConfluentConsumer
from oms_events.kafka.port import TopicPartition

TP = TopicPartition("oms.order.events", 3)


class Admin:
    """Stands in for librdkafka's admin client: the first one made answers -1001, as
    one did after the broker was killed; any later one the offset."""

    made: ClassVar[list[Admin]] = []

    def __init__(self, config: dict[str, Any]) -> None:
        self.asked = 0
        Admin.made.append(self)

    def list_offsets(self, request: dict[Any, Any], **_: Any) -> dict[Any, Future[Any]]:
        self.asked += 1
        offset = -1001 if len(Admin.made) == 1 else 42
        out: dict[Any, Future[Any]] = {}
        for key in request:
            done: Future[Any] = Future()
            done.set_result(ck.TopicPartition(key.topic, key.partition, offset))
            out[key] = done
        return out


@pytest.fixture
def reader(monkeypatch: pytest.MonkeyPatch) -> ConfluentConsumer:
    Admin.made = []
    monkeypatch.setattr(confluent, "AdminClient", Admin)
    return ConfluentConsumer(
        {
            "bootstrap.servers": "127.0.0.1:1",
            "group.id": "g",
            "isolation.level": "read_committed",
            "log_level": 0,  # nothing listens on port 1: no connection errors on stderr
        },
        {},
        grouped=False,
        max_records=10,
    )


def test_an_unknown_offset_is_asked_again_with_a_new_client(reader: ConfluentConsumer) -> None:
    assert reader.end_offsets([TP]) == {TP: 42}
    assert reader.end_offsets([TP], stable=False) == {TP: 42}
    assert reader.beginning_offsets([TP]) == {TP: 42}
    assert len(Admin.made) == 2  # the client that answered is kept
    assert Admin.made[0].asked == 1
    reader.close()
