"""The pure domain of oms-events: aggregates, value objects, rules and the workflow.

Imports only the standard library and ``eventsourcing.domain``; no Kafka, no
PostgreSQL, no Avro. Adapters live outside this package.
"""

from __future__ import annotations

from oms_events.domain.customer import Address, Customer
from oms_events.domain.errors import DomainError
from oms_events.domain.events import (
    aggregate_classes,
    event_classes,
    event_name,
    events_by_aggregate_type,
)
from oms_events.domain.inventory import InventoryItem, ReservationOutcome
from oms_events.domain.line import OrderLine
from oms_events.domain.money import Money
from oms_events.domain.order import DeliverySpeed, Order, OrderStatus, PaymentMethod
from oms_events.domain.payment import Payment, RefundStatus
from oms_events.domain.returns import Inspection, Return, ReturnLine, ReturnStatus
from oms_events.domain.shipment import Shipment, ShipmentLine, ShipmentStatus
from oms_events.domain.workflow import Decision, ShortagePolicy, Workflow

__all__ = [
    "Address",
    "Customer",
    "Decision",
    "DeliverySpeed",
    "DomainError",
    "Inspection",
    "InventoryItem",
    "Money",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Payment",
    "PaymentMethod",
    "RefundStatus",
    "ReservationOutcome",
    "Return",
    "ReturnLine",
    "ReturnStatus",
    "Shipment",
    "ShipmentLine",
    "ShipmentStatus",
    "ShortagePolicy",
    "Workflow",
    "aggregate_classes",
    "event_classes",
    "event_name",
    "events_by_aggregate_type",
]
