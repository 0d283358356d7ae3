"""The inventory service's handling of ReserveLines, without Kafka: each line against
its own InventoryItem, one reply per order and transaction."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

from oms_events.domain.inventory import InventoryItem
from oms_events.engine import commands
from oms_events.engine.commands import (
    CommitLines,
    CommitStock,
    LineToCommit,
    LineToRelease,
    LineToReserve,
    LineToRestock,
    ReceiveStock,
    ReleaseLines,
    ReleaseStock,
    ReservationsAnswered,
    ReserveLines,
    ReserveStock,
    RestockLines,
)
from oms_events.engine.handling import Outcome, Step
from oms_events.engine.inventory_service import InventoryService
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.records import CommandWriter, partition_for
from tests.unit.engine.flow import CODEC, SETTINGS

PARTITIONS = SETTINGS.kafka.partitions


def _skus_on_one_partition(count: int, location: str = "SH") -> list[str]:
    by_partition: dict[int, list[str]] = {}
    for n in range(200):
        sku = f"SKU-{n}"
        owner = partition_for(commands.item_key(sku, location).encode(), PARTITIONS)
        by_partition.setdefault(owner, []).append(sku)
        if len(by_partition[owner]) == count:
            return by_partition[owner]
    raise AssertionError("no partition holds enough skus")


def _sku_elsewhere(sku: str, location: str = "SH") -> str:
    # A sku whose item another partition than ``sku``'s owns.
    here = partition_for(commands.item_key(sku, location).encode(), PARTITIONS)
    return next(
        f"OTHER-{n}"
        for n in range(100)
        if partition_for(commands.item_key(f"OTHER-{n}", location).encode(), PARTITIONS) != here
    )


class Stock:
    """The inventory service's partitions; every command of one call is one transaction."""

    def __init__(self) -> None:
        self.step = Step(InventoryService(), SETTINGS, CODEC)
        self.writer = CommandWriter(SETTINGS, CODEC)
        self.partitions: dict[int, Partition] = {}

    def transaction(self, *sent: commands.Command) -> Outbox:
        out = Outbox(SETTINGS, CODEC)
        for command in sent:
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
            assert self.step(record, partition, out) is Outcome.APPLIED
        return out


def _written(out: Outbox) -> list[tuple[str, dict[str, Any]]]:
    return [CODEC.decode(o.value) for o in out.records]


def _line(n: int, sku: str, quantity: int = 1) -> LineToReserve:
    return LineToReserve(
        line_no=n, reservation_id=uuid.uuid4(), sku=sku, location="SH", quantity=quantity
    )


def _two_lines_reserved() -> tuple[Stock, uuid.UUID, LineToReserve, LineToReserve]:
    # Two items of one partition with 3 units each; an order holds 1 of the first, 2 of
    # the second.
    a, b = _skus_on_one_partition(2)
    stock = Stock()
    stock.transaction(
        *[ReceiveStock(command_id=f"r-{s}", sku=s, location="SH", quantity=3) for s in (a, b)]
    )
    order_id = uuid.uuid4()
    one, two = _line(1, a), _line(2, b, 2)
    stock.transaction(ReserveLines(command_id="c1", order_id=order_id, lines=(one, two)))
    return stock, order_id, one, two


def _items(stock: Stock, *skus: str) -> list[InventoryItem | None]:
    # The items of ``skus`` at SH, all on the one partition the stock has.
    [partition] = stock.partitions.values()
    return [partition.get(uuid.UUID(commands.item_key(s, "SH"))) for s in skus]


def test_the_lines_of_one_partition_are_reserved_per_item_and_answered_in_one_reply() -> None:
    a, b = _skus_on_one_partition(2)
    stock = Stock()
    stock.transaction(
        *[ReceiveStock(command_id=f"r-{s}", sku=s, location="SH", quantity=2) for s in (a, b)]
    )
    order_id = uuid.uuid4()
    out = stock.transaction(
        ReserveLines(command_id="c1", order_id=order_id, lines=(_line(1, a), _line(2, b, 5)))
    )
    written = _written(out)
    events = [(name, r["quantity"]) for name, r in written if name.startswith("oms.inventory.")]
    assert events == [
        ("oms.inventory.StockReserved", 1),  # each item its own event
        ("oms.inventory.ReservationRejected", 5),
    ]
    [reply] = [r for n, r in written if n == ReservationsAnswered.schema()]
    assert reply["order_id"] == str(order_id)
    assert [(x["line_no"], x["outcome"], x["available"]) for x in reply["answers"]] == [
        (1, "reserved", 1),
        (2, "rejected", 2),
    ]


def test_one_transaction_answers_an_order_once_whatever_it_asked_of_each_partition() -> None:
    [a] = _skus_on_one_partition(1)
    b = _sku_elsewhere(a)
    stock = Stock()
    stock.transaction(
        *[ReceiveStock(command_id=f"r-{s}", sku=s, location="SH", quantity=2) for s in (a, b)]
    )
    order_id = uuid.uuid4()
    out = stock.transaction(
        ReserveLines(command_id="c1", order_id=order_id, lines=(_line(1, a),)),
        ReserveLines(command_id="c2", order_id=order_id, lines=(_line(2, b),)),
    )
    replies = [r for n, r in _written(out) if n == ReservationsAnswered.schema()]
    assert [[x["line_no"] for x in r["answers"]] for r in replies] == [[1, 2]]


def test_a_line_of_another_partition_is_sent_on_to_its_owner() -> None:
    [a] = _skus_on_one_partition(1)
    b = _sku_elsewhere(a)
    stock = Stock()
    stock.transaction(ReceiveStock(command_id="r", sku=a, location="SH", quantity=2))
    out = stock.transaction(
        ReserveLines(command_id="c1", order_id=uuid.uuid4(), lines=(_line(1, a), _line(2, b)))
    )
    [forwarded] = [
        commands.from_record(n, r) for n, r in _written(out) if n == ReserveLines.schema()
    ]
    assert isinstance(forwarded, ReserveLines)
    assert [line.sku for line in forwarded.lines] == [b]
    [reply] = [r for n, r in _written(out) if n == ReservationsAnswered.schema()]
    assert [x["line_no"] for x in reply["answers"]] == [1]  # b's owner answers for b


def test_an_earlier_versions_reserve_stock_is_answered_as_one_line() -> None:
    [a] = _skus_on_one_partition(1)
    stock = Stock()
    stock.transaction(ReceiveStock(command_id="r", sku=a, location="SH", quantity=2))
    rid, order_id = uuid.uuid4(), uuid.uuid4()
    out = stock.transaction(
        ReserveStock(
            command_id="old",
            order_id=order_id,
            line_no=3,
            reservation_id=rid,
            sku=a,
            location="SH",
            quantity=2,
        )
    )
    [reply] = [r for n, r in _written(out) if n == ReservationsAnswered.schema()]
    assert [(x["line_no"], x["reservation_id"], x["outcome"]) for x in reply["answers"]] == [
        (3, str(rid), "reserved")
    ]


def test_a_command_with_a_bad_line_is_refused_whole_before_any_stock_moves() -> None:
    a, b = _skus_on_one_partition(2)
    stock = Stock()
    stock.transaction(
        *[ReceiveStock(command_id=f"r-{s}", sku=s, location="SH", quantity=2) for s in (a, b)]
    )
    command = ReserveLines(
        command_id="bad", order_id=uuid.uuid4(), lines=(_line(1, a), _line(2, b, 0))
    )
    r = stock.writer.record(command)
    assert r.partition is not None
    partition = stock.partitions[r.partition]
    out = Outbox(SETTINGS, CODEC)
    record = SimpleNamespace(
        topic=r.topic, key=r.key, value=r.value, headers=r.headers, partition=r.partition, offset=7
    )
    assert stock.step(record, partition, out) is Outcome.DEAD
    names = [name for name, _ in _written(out)]
    assert "oms.inventory.StockReserved" not in names
    assert ReservationsAnswered.schema() not in names
    item = partition.get(uuid.UUID(commands.item_key(a, "SH")))
    assert item is not None and item.reserved == 0


def test_a_shipments_lines_of_one_partition_are_committed_by_one_command() -> None:
    stock, order_id, one, two = _two_lines_reserved()
    a, b = one.sku, two.sku
    commit = CommitLines(
        command_id="ship-1",
        order_id=order_id,
        lines=tuple(
            LineToCommit(reservation_id=x.reservation_id, sku=x.sku, location="SH")
            for x in (one, two)
        ),
    )
    written = _written(stock.transaction(commit))
    assert [(n, r["quantity"]) for n, r in written] == [
        ("oms.inventory.ReservationCommitted", 1),
        ("oms.inventory.ReservationCommitted", 2),
    ]
    old = CommitStock(
        command_id="ship-old",
        order_id=order_id,
        reservation_id=one.reservation_id,
        sku=a,
        location="SH",
    )
    assert _written(stock.transaction(old)) == []  # committed already: nothing more
    items = _items(stock, a, b)
    assert [(i.on_hand, i.reserved) for i in items if i is not None] == [(2, 0), (1, 0)]


def test_an_orders_reservations_on_one_partition_are_released_by_one_command() -> None:
    stock, order_id, one, two = _two_lines_reserved()
    a, b = one.sku, two.sku
    never = LineToRelease(reservation_id=uuid.uuid4(), sku=a, location="SH")  # nothing held
    release = ReleaseLines(
        command_id="cancel-1",
        order_id=order_id,
        reason="customer",
        lines=(
            *(
                LineToRelease(reservation_id=x.reservation_id, sku=x.sku, location="SH")
                for x in (one, two)
            ),
            never,
        ),
    )
    written = _written(stock.transaction(release))
    assert [(n, r["quantity"]) for n, r in written] == [
        ("oms.inventory.ReservationReleased", 1),
        ("oms.inventory.ReservationReleased", 2),
    ]
    items = _items(stock, a, b)
    assert [i.available for i in items if i is not None] == [3, 3]


def test_an_earlier_versions_release_stock_releases_one_line() -> None:
    [a] = _skus_on_one_partition(1)
    stock = Stock()
    stock.transaction(ReceiveStock(command_id="r", sku=a, location="SH", quantity=3))
    order_id, line = uuid.uuid4(), _line(1, a, 2)
    stock.transaction(ReserveLines(command_id="c1", order_id=order_id, lines=(line,)))
    old = ReleaseStock(
        command_id="old-release",
        order_id=order_id,
        reservation_id=line.reservation_id,
        sku=a,
        location="SH",
        reason="customer",
    )
    assert [n for n, _ in _written(stock.transaction(old))] == ["oms.inventory.ReservationReleased"]


def test_a_release_of_another_partitions_line_is_sent_on_with_its_reason() -> None:
    [a] = _skus_on_one_partition(1)
    b = _sku_elsewhere(a)
    stock = Stock()
    stock.transaction(ReceiveStock(command_id="r", sku=a, location="SH", quantity=2))
    order_id = uuid.uuid4()
    mine, theirs = (
        LineToRelease(reservation_id=uuid.uuid4(), sku=s, location="SH") for s in (a, b)
    )
    release = ReleaseLines(
        command_id="cancel-1", order_id=order_id, lines=(mine, theirs), reason="customer"
    )
    out = stock.transaction(release)
    [forwarded] = [
        commands.from_record(n, r) for n, r in _written(out) if n == ReleaseLines.schema()
    ]
    assert forwarded == ReleaseLines(
        command_id="cancel-1/elsewhere", order_id=order_id, lines=(theirs,), reason="customer"
    )


def test_the_lines_of_a_cancelled_order_shipped_anyway_leave_on_hand() -> None:
    """Released first (the order was cancelled), committed later (the warehouse shipped
    before it read the cancellation): the units come off hand, from the free stock."""
    stock, order_id, one, _ = _two_lines_reserved()
    release = LineToRelease(reservation_id=one.reservation_id, sku=one.sku, location="SH")
    stock.transaction(
        ReleaseLines(command_id="x", order_id=order_id, lines=(release,), reason="cancelled")
    )
    commit = LineToCommit(reservation_id=one.reservation_id, sku=one.sku, location="SH", quantity=1)
    out = stock.transaction(CommitLines(command_id="s", order_id=order_id, lines=(commit,)))
    assert [n for n, _ in _written(out)] == ["oms.inventory.ReleasedStockShipped"]
    [item] = _items(stock, one.sku)
    assert item is not None and (item.on_hand, item.reserved, item.available) == (2, 0, 2)


def test_a_cancellation_after_the_goods_left_releases_nothing() -> None:
    """Committed first (shipped), released later (the cancellation was slower): nothing
    is held any more, nothing is dead-lettered; the shipment has the parcel intercepted."""
    stock, order_id, one, _ = _two_lines_reserved()
    commit = LineToCommit(reservation_id=one.reservation_id, sku=one.sku, location="SH", quantity=1)
    stock.transaction(CommitLines(command_id="s", order_id=order_id, lines=(commit,)))
    release = LineToRelease(reservation_id=one.reservation_id, sku=one.sku, location="SH")
    out = stock.transaction(
        ReleaseLines(command_id="x", order_id=order_id, lines=(release,), reason="cancelled")
    )
    assert _written(out) == []
    [item] = _items(stock, one.sku)
    assert item is not None and (item.on_hand, item.reserved) == (2, 0)


def test_a_returned_parcel_is_restocked_once() -> None:
    stock, order_id, one, _ = _two_lines_reserved()
    commit = LineToCommit(reservation_id=one.reservation_id, sku=one.sku, location="SH", quantity=1)
    stock.transaction(CommitLines(command_id="s", order_id=order_id, lines=(commit,)))
    back = LineToRestock(sku=one.sku, location="SH", quantity=1)
    parcel = uuid.uuid4()
    for n in range(2):  # the warehouse scans the parcel twice
        stock.transaction(
            RestockLines(command_id=f"b{n}", restock_id=parcel, lines=(back,), reason="back")
        )
    [item] = _items(stock, one.sku)
    assert item is not None and (item.on_hand, item.reserved, item.available) == (3, 0, 3)
