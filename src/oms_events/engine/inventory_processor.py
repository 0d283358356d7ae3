"""The inventory processor: stock of each (sku, location), the authority on reservations.

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

from typing import Any
from uuid import UUID

import structlog

from oms_events.domain.errors import ReservationConflict, UnknownReservation
from oms_events.domain.inventory import InventoryItem, ReservationOutcome
from oms_events.engine.commands import Command, item_key
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.service import Service

log = structlog.get_logger(__name__)


class InventoryService(Service):
    """Handlers of inventory commands."""

    name = "inventory"
    aggregate_type = "inventory"

    def key(self, name: str, payload: dict[str, Any]) -> str:
        """Every inventory command addresses the item of its (sku, location)."""
        return item_key(payload["sku"], payload["location"])

    def handle(self, command: Command, partition: Partition, out: Outbox) -> None:
        """Dispatch on the command name."""
        handlers = {
            "ReceiveStock": self._receive,
            "ReserveStock": self._reserve,
            "ReleaseStock": self._release,
            "CommitStock": self._commit,
        }
        if command.name not in handlers:
            raise ValueError(f"inventory has no command {command.name}")
        handlers[command.name](command, partition, out)

    def _receive(self, command: Command, partition: Partition, out: Outbox) -> None:
        p = command.payload
        item: InventoryItem | None = partition.get(UUID(command.key))
        if item is None:
            item = InventoryItem.register(p["sku"], p["location"])
        item.receive(p["quantity"], p["reason"])
        out.events("inventory", partition, item, command.command_id)

    def _reserve(self, command: Command, partition: Partition, out: Outbox) -> None:
        p = command.payload
        item: InventoryItem | None = partition.get(UUID(command.key))
        reservation_id, order_id = command.uuid("reservation_id"), command.uuid("order_id")
        if item is None:
            self._answer(out, command, "rejected", "stock.unknown_item", 0)
            return
        try:
            outcome = item.try_reserve(reservation_id, order_id, p["quantity"])
        except ReservationConflict as error:
            self._answer(out, command, "rejected", error.code, item.available)
            return
        out.events("inventory", partition, item, command.command_id)
        if outcome is ReservationOutcome.REJECTED:
            self._answer(out, command, "rejected", "stock.insufficient", item.available)
        elif outcome is ReservationOutcome.RESERVED or reservation_id in item.reservations:
            self._answer(out, command, "reserved", "", item.available)
        # A duplicate of a reservation since released or committed needs no answer:
        # the saga closed that line itself.

    def _release(self, command: Command, partition: Partition, out: Outbox) -> None:
        item: InventoryItem | None = partition.get(UUID(command.key))
        if item is None:
            return
        try:
            item.release(command.uuid("reservation_id"))
        except UnknownReservation:
            # A compensation for a reservation that was rejected or never arrived:
            # nothing is held, so there is nothing to give back.
            return
        out.events("inventory", partition, item, command.command_id)

    def _commit(self, command: Command, partition: Partition, out: Outbox) -> None:
        item: InventoryItem | None = partition.get(UUID(command.key))
        if item is None:
            raise UnknownReservation(reservation_id=command.payload["reservation_id"])
        item.commit(command.uuid("reservation_id"))
        out.events("inventory", partition, item, command.command_id)

    @staticmethod
    def _answer(out: Outbox, command: Command, outcome: str, reason: str, available: int) -> None:
        p = command.payload
        out.command(
            "order",
            "ReservationAnswered",
            str(p["order_id"]),
            {
                "command_id": f"{p['command_id']}/answer",
                "order_id": str(p["order_id"]),
                "line_no": p["line_no"],
                "reservation_id": str(p["reservation_id"]),
                "sku": p["sku"],
                "location": p["location"],
                "quantity": p["quantity"],
                "outcome": outcome,
                "reason": reason,
                "available": available,
                "tried": list(p.get("tried") or []),
            },
        )
