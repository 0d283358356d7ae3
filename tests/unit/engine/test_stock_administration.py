"""Operators' stock commands through the inventory service, without Kafka: transfers
cross partitions by a follow-up command; a refused command is answered, not
dead-lettered."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

from oms_events import topics
from oms_events.engine import commands
from oms_events.engine.commands import (
    AdjustStock,
    CountStock,
    ExpectTransfer,
    LineToReserve,
    ReceiveStock,
    ReceiveTransfer,
    ReserveLines,
    TransferStock,
)
from oms_events.engine.handling import COMMAND_REJECTED, Outcome, Step
from oms_events.engine.inventory_service import InventoryService
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.records import CommandWriter
from tests.unit.engine.flow import CODEC, SETTINGS


class Stock:
    """The inventory service's partitions; each ``send`` is one transaction."""

    def __init__(self) -> None:
        self.step = Step(InventoryService(), SETTINGS, CODEC)
        self.writer = CommandWriter(SETTINGS, CODEC)
        self.partitions: dict[int, Partition] = {}

    def send(self, command: commands.Command) -> tuple[Outcome, list[tuple[str, dict[str, Any]]]]:
        out = Outbox(SETTINGS, CODEC)
        r = self.writer.record(command)
        assert r.partition is not None
        partition = self.partitions.setdefault(r.partition, Partition(r.partition))
        record = SimpleNamespace(
            topic=r.topic,
            key=r.key,
            value=r.value,
            headers=r.headers,
            partition=r.partition,
            offset=0,
        )
        outcome = self.step(record, partition, out)
        written = [(o.topic, *CODEC.decode(o.value)) for o in out.records]
        return outcome, [(name, value) for _, name, value in written] + [
            ("topic:" + t, {}) for t, _, _ in written
        ]


def _names(written: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [n.rsplit(".", 1)[-1] for n, _ in written if not n.startswith("topic:")]


def test_a_transfer_leaves_the_source_is_in_transit_at_the_destination_then_arrives() -> None:
    stock = Stock()
    stock.send(ReceiveStock(command_id="r1", sku="TEA", location="A", quantity=10))
    tid = uuid.uuid4()
    outcome, written = stock.send(
        TransferStock(
            command_id="t1",
            sku="TEA",
            location="A",
            to_location="B",
            transfer_id=tid,
            quantity=4,
            actor="li",
        )
    )
    assert outcome is Outcome.APPLIED
    assert _names(written) == ["TransferDispatched", "ExpectTransfer"]
    [(_, expect)] = [(n, v) for n, v in written if n == ExpectTransfer.schema()]
    follow_up = commands.from_record(ExpectTransfer.schema(), expect)
    assert follow_up.key == commands.item_key("TEA", "B")  # lands with the destination
    _, written = stock.send(follow_up)
    assert _names(written) == ["ItemRegistered", "TransferExpected"]
    _, again = stock.send(follow_up)  # the same command redelivered: nothing more
    assert _names(again) == []
    _, written = stock.send(
        ReceiveTransfer(command_id="t2", sku="TEA", location="B", transfer_id=tid, actor="wang")
    )
    [(_, received)] = [(n, v) for n, v in written if n.endswith("TransferReceived")]
    assert (received["quantity"], received["from_location"], received["actor"]) == (4, "A", "wang")


def test_an_adjustment_below_reserved_is_answered_with_the_reason_not_dead_lettered() -> None:
    stock = Stock()
    stock.send(ReceiveStock(command_id="r1", sku="TEA", location="A", quantity=5))
    line = LineToReserve(
        line_no=1, reservation_id=uuid.uuid4(), sku="TEA", location="A", quantity=4
    )
    stock.send(ReserveLines(command_id="c1", order_id=uuid.uuid4(), lines=(line,)))
    outcome, written = stock.send(
        AdjustStock(command_id="a1", sku="TEA", location="A", delta=-2, reason="damage", actor="li")
    )
    assert outcome is Outcome.REJECTED
    [(_, reply)] = [(n, v) for n, v in written if n == COMMAND_REJECTED]
    assert reply["code"] == "stock.adjustment_invalid"
    assert "4 reserved" in reply["message_en"]
    topics_written = {n for n, _ in written if n.startswith("topic:")}
    assert topics_written == {"topic:" + topics.name(SETTINGS, topics.NOTIFICATIONS)}
    outcome, written = stock.send(
        CountStock(command_id="k1", sku="TEA", location="A", counted=3, actor="li")
    )
    assert outcome is Outcome.REJECTED
    [(_, reply)] = [(n, v) for n, v in written if n == COMMAND_REJECTED]
    assert reply["code"] == "stock.count_below_reserved"
    assert "release or move 1 reserved" in reply["message_en"]


def test_an_adjustment_reason_outside_the_list_is_refused() -> None:
    outcome, written = Stock().send(
        AdjustStock(command_id="a1", sku="TEA", location="A", delta=3, reason="gift", actor="li")
    )
    assert outcome is Outcome.REJECTED
    [(_, reply)] = [(n, v) for n, v in written if n == COMMAND_REJECTED]
    assert reply["code"] == "stock.reason_invalid"
