"""The inventory service: stock of each (sku, location), the authority on reservations.

Consumes ``oms.inventory.commands`` keyed by inventory item id:

* ReceiveStock -> ItemRegistered (first time) + StockReceived
* ReserveStock -> StockReserved | ReservationRejected, and a ReservationAnswered
  reply to the order saga on ``oms.order.commands`` (keyed by order id)
* ReleaseStock -> ReservationReleased
* CommitStock  -> ReservationCommitted (the goods left with the carrier)

A ReserveStock repeated under the same reservation id reserves nothing more
(``InventoryItem.try_reserve`` returns DUPLICATE); its answer is repeated, so the
saga always hears back. One writer per item, so no interleaving can oversell.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from oms_events.domain.errors import ReservationConflict, UnknownReservation
from oms_events.domain.inventory import InventoryItem, ReservationOutcome
from oms_events.engine.commands import (
    CommitStock,
    ReceiveStock,
    ReleaseStock,
    ReservationAnswered,
    ReserveStock,
)
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.service import Service


class InventoryService(Service):
    """Handlers of inventory commands."""

    name = "inventory"
    aggregate_type = "inventory"

    def __init__(self) -> None:
        self.handlers = {
            ReceiveStock: self.receive,
            ReserveStock: self.reserve,
            ReleaseStock: self.release,
            CommitStock: self.commit,
        }

    def receive(self, command: ReceiveStock, partition: Partition, out: Outbox) -> None:
        """Count the units in, registering the item the first time."""
        item: InventoryItem | None = partition.get(UUID(command.key))
        if item is None:
            item = InventoryItem.register(command.sku, command.location)
        item.receive(command.quantity, command.reason)
        out.events("inventory", partition, item, command.command_id)

    def reserve(self, command: ReserveStock, partition: Partition, out: Outbox) -> None:
        """Reserve if the units are there, and answer the saga either way."""
        item: InventoryItem | None = partition.get(UUID(command.key))
        if item is None:
            out.command(_answer(command, "rejected", "stock.unknown_item", 0))
            return
        try:
            outcome = item.try_reserve(command.reservation_id, command.order_id, command.quantity)
        except ReservationConflict as error:
            out.command(_answer(command, "rejected", error.code, item.available))
            return
        out.events("inventory", partition, item, command.command_id)
        if outcome is ReservationOutcome.REJECTED:
            out.command(_answer(command, "rejected", "stock.insufficient", item.available))
        elif outcome is ReservationOutcome.RESERVED or command.reservation_id in item.reservations:
            out.command(_answer(command, "reserved", "", item.available))
        # A duplicate of a reservation since released or committed needs no answer:
        # the saga closed that line itself.

    def release(self, command: ReleaseStock, partition: Partition, out: Outbox) -> None:
        """Give a reservation's units back to available."""
        item: InventoryItem | None = partition.get(UUID(command.key))
        if item is None:
            return
        try:
            item.release(command.reservation_id)
        except UnknownReservation:
            # A compensation for a reservation that was rejected or never arrived:
            # nothing is held, so there is nothing to give back.
            return
        out.events("inventory", partition, item, command.command_id)

    def commit(self, command: CommitStock, partition: Partition, out: Outbox) -> None:
        """The reserved units left with the carrier."""
        item: InventoryItem | None = partition.get(UUID(command.key))
        if item is None:
            raise UnknownReservation(reservation_id=str(command.reservation_id))
        item.commit(command.reservation_id)
        out.events("inventory", partition, item, command.command_id)


def _answer(
    command: ReserveStock,
    outcome: Literal["reserved", "rejected"],
    reason: str,
    available: int,
) -> ReservationAnswered:
    """The reply to ``command`` for the order saga, keyed by its order."""
    return ReservationAnswered(
        command_id=f"{command.command_id}/answer",
        order_id=command.order_id,
        line_no=command.line_no,
        reservation_id=command.reservation_id,
        sku=command.sku,
        location=command.location,
        quantity=command.quantity,
        outcome=outcome,
        reason=reason,
        available=available,
        tried=command.tried,
    )
