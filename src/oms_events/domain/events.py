"""The registry of aggregate types and their event classes.

The event store and the Avro codec map an event to ``(aggregate type, event
name)``, e.g. ``("inventory", "StockReserved")``, and back. Event names are
unique across all aggregate types, and are the record names of the Avro
schemas in ``schemas/<aggregate type>/events/<EventName>.avsc``.
"""

from __future__ import annotations

from functools import cache

from eventsourcing.domain import Aggregate

from oms_events.domain.inventory import InventoryItem
from oms_events.domain.order import Order
from oms_events.domain.payment import Payment
from oms_events.domain.returns import Return
from oms_events.domain.shipment import Shipment

EventClass = type[Aggregate.Event]

# Aggregate type (the <type> in oms.<type>.events) -> aggregate class.
AGGREGATE_CLASSES: dict[str, type[Aggregate]] = {
    "order": Order,
    "inventory": InventoryItem,
    "shipment": Shipment,
    "payment": Payment,
    "return": Return,
}

# Base classes the library defines on every aggregate; never recorded themselves.
_LIBRARY_BASES = {"Event", "Created"}


def aggregate_classes() -> dict[str, type[Aggregate]]:
    """Aggregate type name -> aggregate class."""
    return dict(AGGREGATE_CLASSES)


def event_classes(aggregate_type: str) -> dict[str, EventClass]:
    """Event name -> event class, for one aggregate type, in definition order."""
    aggregate_class = AGGREGATE_CLASSES[aggregate_type]
    return {
        name: value
        for name, value in vars(aggregate_class).items()
        if isinstance(value, type)
        and issubclass(value, aggregate_class.Event)
        and name not in _LIBRARY_BASES
    }


@cache
def event_class(aggregate_type: str, name: str) -> EventClass:
    """The class of one event (KeyError if unknown); cached, as replay asks per event."""
    return event_classes(aggregate_type)[name]


def events_by_aggregate_type() -> dict[str, dict[str, EventClass]]:
    """Aggregate type -> (event name -> event class), for every aggregate type."""
    return {aggregate_type: event_classes(aggregate_type) for aggregate_type in AGGREGATE_CLASSES}


def event_name(event_class: type[object]) -> tuple[str, str]:
    """``(aggregate type, event name)`` of an event class, or KeyError if unregistered."""
    return _names()[event_class]


@cache
def _names() -> dict[type[object], tuple[str, str]]:
    # Built once: the encoder asks for every event it writes.
    return {
        cls: (aggregate_type, name)
        for aggregate_type, classes in events_by_aggregate_type().items()
        for name, cls in classes.items()
    }
