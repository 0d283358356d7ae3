"""A small application over the domain's InventoryItem, for the event store's tests."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import Application

from oms_events.domain import InventoryItem
from oms_events.eventstore import environment
from oms_events.settings import Settings


class Warehouse(Application[UUID]):
    """Stock per sku and location, stored through ``PERSISTENCE_MODULE=oms_events.eventstore``."""

    def register(self, sku: str, location: str, threshold: int = 0) -> UUID:
        item = InventoryItem.register(sku, location, threshold)
        self.save(item)
        return item.id

    def receive(self, item_id: UUID, quantity: int, reason: str = "purchase order") -> None:
        item: InventoryItem = self.repository.get(item_id)
        item.receive(quantity, reason)
        self.save(item)

    def item(self, item_id: UUID, version: int | None = None) -> InventoryItem:
        return self.repository.get(item_id, version=version)  # type: ignore[no-any-return]


def warehouse(settings: Settings, **env: str) -> Warehouse:
    """A Warehouse on the Kafka store, storing inventory aggregates only."""
    return Warehouse(env=environment(settings, OMS_EVENTSTORE_TYPES="inventory", **env))
