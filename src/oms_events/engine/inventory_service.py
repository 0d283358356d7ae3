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

Operators' stock administration (``oms stock``), each answered by its events or a
CommandRejected reply on ``oms.notifications`` (an ordinary refusal, not a dead
letter: the operator reads why and decides):

* AdjustStock -> StockAdjusted; CountStock -> StockCounted; SetThreshold -> ThresholdSet
  (each with LowStock / StockReplenished when available crosses the threshold)
* TransferStock (keyed by the source) -> TransferDispatched, and ExpectTransfer to the
  destination in the same transaction -> TransferExpected (in transit there)
* ReceiveTransfer (keyed by the destination) -> TransferReceived

A line asked again under the same reservation id reserves nothing more
(``InventoryItem.try_reserve`` returns DUPLICATE); its answer is repeated, so the
saga always hears back. One writer per item, so no interleaving can oversell.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, TypeVar
from uuid import UUID

from oms_events.domain.errors import (
    DomainError,
    InvalidQuantity,
    ReservationConflict,
    UnknownAdjustmentReason,
    UnknownReservation,
)
from oms_events.domain.inventory import AdjustmentReason, InventoryItem, ReservationOutcome
from oms_events.engine.commands import (
    AdjustStock,
    Command,
    CommitLines,
    CommitStock,
    CountStock,
    ExpectTransfer,
    LineToCommit,
    LineToRelease,
    LineToReserve,
    LineToRestock,
    ReceiveStock,
    ReceiveTransfer,
    ReleaseLines,
    ReleaseStock,
    ReservationAnswer,
    ReserveLines,
    ReserveStock,
    RestockLines,
    SetThreshold,
    StockCommand,
    TransferStock,
)
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.records import partition_for
from oms_events.engine.service import Service

_Lines = TypeVar("_Lines", ReserveLines, ReleaseLines, CommitLines, RestockLines)
_Line = LineToReserve | LineToRelease | LineToCommit | LineToRestock
# Operators' commands: a domain rule refusing one is an answer for the operator.
_ADMINISTRATION = (AdjustStock, CountStock, SetThreshold, TransferStock, ReceiveTransfer)


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
            # Stock administration (oms stock).
            AdjustStock: self.adjust,
            CountStock: self.count,
            SetThreshold: self.set_threshold,
            TransferStock: self.dispatch_transfer,
            ExpectTransfer: self.expect_transfer,
            ReceiveTransfer: self.receive_transfer,
        }

    def refusal(self, command: Command, error: DomainError) -> bool:
        """An operator's command refused by a rule (below reserved, unknown transfer) is
        answered, not dead-lettered: the CLI shows the reason."""
        return isinstance(command, _ADMINISTRATION)

    def receive(self, command: ReceiveStock, partition: Partition, out: Outbox) -> None:
        """Count the units in, registering the item the first time."""
        item = _item_or_new(command, partition)
        item.receive(command.quantity, command.reason, command.actor)
        out.events("inventory", partition, item, command.command_id)

    # --- stock administration ------------------------------------------------------

    def adjust(self, command: AdjustStock, partition: Partition, out: Outbox) -> None:
        """Correct on hand for one of the operators' reasons."""
        if command.reason not in set(AdjustmentReason):
            raise UnknownAdjustmentReason(
                reason=command.reason, choices=", ".join(AdjustmentReason)
            )
        item = _item_or_new(command, partition)
        item.adjust(command.delta, command.reason, command.actor, command.note)
        out.events("inventory", partition, item, command.command_id)

    def count(self, command: CountStock, partition: Partition, out: Outbox) -> None:
        """Record a cycle count (an item never received may be counted: found stock)."""
        item = _item_or_new(command, partition)
        item.count(command.counted, command.actor, command.note)
        out.events("inventory", partition, item, command.command_id)

    def set_threshold(self, command: SetThreshold, partition: Partition, out: Outbox) -> None:
        """Set the item's low-stock threshold (an item not stocked yet is registered)."""
        item = _item_or_new(command, partition)
        item.set_threshold(command.threshold, command.actor)
        out.events("inventory", partition, item, command.command_id)

    def dispatch_transfer(self, command: TransferStock, partition: Partition, out: Outbox) -> None:
        """Units leave the source; the destination hears of them in this transaction."""
        item = _item_or_new(command, partition)
        item.dispatch_transfer(
            command.transfer_id, command.to_location, command.quantity, command.actor, command.note
        )
        out.events("inventory", partition, item, command.command_id)
        out.command(
            ExpectTransfer(
                command_id=f"{command.command_id}/expect",
                sku=command.sku,
                location=command.to_location,
                transfer_id=command.transfer_id,
                from_location=command.location,
                quantity=command.quantity,
                actor=command.actor,
            )
        )

    def expect_transfer(self, command: ExpectTransfer, partition: Partition, out: Outbox) -> None:
        """The destination puts the dispatched units in transit (registered if new)."""
        item = _item_or_new(command, partition)
        item.expect_transfer(
            command.transfer_id, command.from_location, command.quantity, command.actor
        )
        out.events("inventory", partition, item, command.command_id)

    def receive_transfer(self, command: ReceiveTransfer, partition: Partition, out: Outbox) -> None:
        """The transfer arrived at its destination."""
        item = _item_or_new(command, partition)
        item.receive_transfer(command.transfer_id, command.actor)
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
        """Units back at the warehouse (a returned parcel, a return's resellable goods) go
        back on hand, with the reason, once per restock id and item."""
        for line in command.lines:
            InvalidQuantity.check(line.quantity)
        elsewhere = _forward_elsewhere(command, partition, out)
        for line in command.lines:
            if line in elsewhere:
                continue
            item: InventoryItem | None = partition.get(UUID(line.item))
            if item is None:
                # A return received where the sku was never stocked (a store, say).
                item = InventoryItem.register(line.sku, line.location)
            item.restock(command.restock_id, line.quantity, command.reason)
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


def _item_or_new(command: StockCommand, partition: Partition) -> InventoryItem:
    """The item the command addresses, registered (ItemRegistered) the first time."""
    item: InventoryItem | None = partition.get(UUID(command.key))
    if item is None:
        item = InventoryItem.register(command.sku, command.location)
    return item


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
