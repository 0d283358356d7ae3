"""The inventory service: stock of each (sku, location), the authority on reservations.

Consumes ``oms.inventory.commands`` keyed by inventory item id:

* ReceiveStock -> ItemRegistered (first time) + StockReceived
* ReserveLines (the lines of one order whose items live on this partition) ->
  StockReserved | ReservationRejected per item, and one ReservationsAnswered per order
  and transaction to the order saga on ``oms.order.commands`` (keyed by order id);
  an earlier version's ReserveStock is a ReserveLines of one line
* ReleaseLines (an order's reservations on this partition) -> ReservationReleased per
  item; an earlier version's ReleaseStock is a ReleaseLines of one line
* CommitLines (a shipment's lines whose items live on this partition) ->
  ReservationCommitted per item (the goods left with the carrier); an earlier
  version's CommitStock is a CommitLines of one line; a reservation released
  meanwhile (a cancelled order the warehouse shipped anyway) -> ReleasedStockShipped
  (its units taken from free stock)
* RestockLines (a returned parcel back at the warehouse) -> StockRestocked per item,
  once per restock id

A line asked again under the same reservation id reserves nothing more
(``InventoryItem.try_reserve`` returns DUPLICATE); its answer is repeated, so the
saga always hears back. One writer per item, so no interleaving can oversell.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, TypeVar
from uuid import UUID

from oms_events.domain.errors import InvalidQuantity, ReservationConflict, UnknownReservation
from oms_events.domain.inventory import InventoryItem, ReservationOutcome
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
    ReservationAnswer,
    ReserveLines,
    ReserveStock,
    RestockLines,
)
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.records import partition_for
from oms_events.engine.service import Service

_Lines = TypeVar("_Lines", ReserveLines, ReleaseLines, CommitLines, RestockLines)
_Line = LineToReserve | LineToRelease | LineToCommit | LineToRestock


class InventoryService(Service):
    """Handlers of inventory commands."""

    name = "inventory"
    aggregate_type = "inventory"

    def __init__(self) -> None:
        self.handlers = {
            ReceiveStock: self.receive,
            ReserveLines: self.reserve,
            ReserveStock: self.reserve_one,
            ReleaseLines: self.release,
            ReleaseStock: self.release_one,
            CommitLines: self.commit,
            CommitStock: self.commit_one,
            RestockLines: self.restock,
        }

    def receive(self, command: ReceiveStock, partition: Partition, out: Outbox) -> None:
        """Count the units in, registering the item the first time."""
        item: InventoryItem | None = partition.get(UUID(command.key))
        if item is None:
            item = InventoryItem.register(command.sku, command.location)
        item.receive(command.quantity, command.reason)
        out.events("inventory", partition, item, command.command_id)

    def reserve(self, command: ReserveLines, partition: Partition, out: Outbox) -> None:
        """Reserve each line where its units are, and answer the saga for all of them in
        the transaction's one reply to the order."""
        for line in command.lines:
            # Bad input is refused whole, before any line holds stock.
            InvalidQuantity.check(line.quantity)
        elsewhere = _forward_elsewhere(command, partition, out)
        answers = [
            answer
            for line in command.lines
            if line not in elsewhere
            if (answer := self._reserve(command, line, partition, out)) is not None
        ]
        out.answer(command.order_id, answers, command.command_id)

    def reserve_one(self, command: ReserveStock, partition: Partition, out: Outbox) -> None:
        """An earlier version's ReserveStock: a ReserveLines of one line."""
        line = LineToReserve(
            line_no=command.line_no,
            reservation_id=command.reservation_id,
            sku=command.sku,
            location=command.location,
            quantity=command.quantity,
            tried=command.tried,
        )
        one = ReserveLines(command_id=command.command_id, order_id=command.order_id, lines=(line,))
        self.reserve(one, partition, out)

    @staticmethod
    def _reserve(
        command: ReserveLines, line: LineToReserve, partition: Partition, out: Outbox
    ) -> ReservationAnswer | None:
        # One line against its item: its events queued, its answer returned (None for a
        # repeat of a reservation since released or committed: the saga closed that line).
        item: InventoryItem | None = partition.get(UUID(line.item))
        if item is None:
            return _answer(line, "rejected", "stock.unknown_item", 0)
        try:
            outcome = item.try_reserve(line.reservation_id, command.order_id, line.quantity)
        except ReservationConflict as error:
            return _answer(line, "rejected", error.code, item.available)
        out.events("inventory", partition, item, command.command_id)
        if outcome is ReservationOutcome.REJECTED:
            return _answer(line, "rejected", "stock.insufficient", item.available)
        if outcome is ReservationOutcome.RESERVED or line.reservation_id in item.reservations:
            return _answer(line, "reserved", "", item.available)
        return None

    def release(self, command: ReleaseLines, partition: Partition, out: Outbox) -> None:
        """Give the lines' reservations back to available."""
        elsewhere = _forward_elsewhere(command, partition, out)
        for line in command.lines:
            item: InventoryItem | None = partition.get(UUID(line.item))
            if line in elsewhere or item is None:
                continue
            if item.closed_as(line.reservation_id) == "committed":
                # The goods left before the cancellation reached us: nothing is held;
                # the shipment asks the carrier to bring them back.
                continue
            try:
                item.release(line.reservation_id)
            except UnknownReservation:
                # A compensation for a reservation that was rejected or never arrived:
                # nothing is held, so there is nothing to give back.
                continue
            out.events("inventory", partition, item, command.command_id)

    def release_one(self, command: ReleaseStock, partition: Partition, out: Outbox) -> None:
        """An earlier version's ReleaseStock: a ReleaseLines of one line."""
        line = LineToRelease(
            reservation_id=command.reservation_id, sku=command.sku, location=command.location
        )
        one = ReleaseLines(
            command_id=command.command_id,
            order_id=command.order_id,
            lines=(line,),
            reason=command.reason,
        )
        self.release(one, partition, out)

    def commit(self, command: CommitLines, partition: Partition, out: Outbox) -> None:
        """The reserved units of these lines left with the carrier.

        Committing is idempotent, so a command dead-lettered half-way (a reservation
        released meanwhile) can be replayed once fixed.
        """
        elsewhere = _forward_elsewhere(command, partition, out)
        for line in command.lines:
            if line in elsewhere:
                continue
            item: InventoryItem | None = partition.get(UUID(line.item))
            if item is None:
                raise UnknownReservation(reservation_id=str(line.reservation_id))
            if line.quantity and item.closed_as(line.reservation_id) == "released":
                item.ship_released(line.reservation_id, line.quantity)
            else:
                item.commit(line.reservation_id)
            out.events("inventory", partition, item, command.command_id)

    def restock(self, command: RestockLines, partition: Partition, out: Outbox) -> None:
        """Units back at the warehouse go back on hand, once per restock id and item."""
        for line in command.lines:
            InvalidQuantity.check(line.quantity)
        elsewhere = _forward_elsewhere(command, partition, out)
        for line in command.lines:
            if line in elsewhere:
                continue
            item: InventoryItem | None = partition.get(UUID(line.item))
            if item is None:
                raise UnknownReservation(reservation_id=str(command.restock_id))
            item.restock(command.restock_id, line.quantity)
            out.events("inventory", partition, item, command.command_id)

    def commit_one(self, command: CommitStock, partition: Partition, out: Outbox) -> None:
        """An earlier version's CommitStock: a CommitLines of one line."""
        line = LineToCommit(
            reservation_id=command.reservation_id, sku=command.sku, location=command.location
        )
        self.commit(
            CommitLines(command_id=command.command_id, order_id=command.order_id, lines=(line,)),
            partition,
            out,
        )


def _forward_elsewhere(command: _Lines, partition: Partition, out: Outbox) -> tuple[_Line, ...]:
    """The command's lines whose items another partition owns (the sender counted
    partitions differently), forwarded to their owner as the same command, in this
    transaction; the caller handles the rest."""
    partitions = out.settings.kafka.partitions
    elsewhere = tuple(
        line
        for line in command.lines
        if partition_for(line.item.encode(), partitions) != partition.number
    )
    if elsewhere:
        # Every field but the id and the lines carries over (a release's reason, say).
        out.command(
            dataclasses.replace(
                command, command_id=f"{command.command_id}/elsewhere", lines=elsewhere
            )
        )
    return elsewhere


def _answer(
    line: LineToReserve,
    outcome: Literal["reserved", "rejected"],
    reason: str,
    available: int,
) -> ReservationAnswer:
    """The answer for one line, for the order saga."""
    return ReservationAnswer(
        line_no=line.line_no,
        reservation_id=line.reservation_id,
        sku=line.sku,
        location=line.location,
        quantity=line.quantity,
        outcome=outcome,
        reason=reason,
        available=available,
        tried=line.tried,
    )
