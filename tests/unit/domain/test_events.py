"""The registry maps every event class to (aggregate type, event name) and back."""

from __future__ import annotations

import pytest

from oms_events.domain import (
    InventoryItem,
    Order,
    aggregate_classes,
    event_classes,
    event_name,
    events_by_aggregate_type,
)


def test_the_aggregate_types_are_the_topic_types() -> None:
    assert set(aggregate_classes()) == {"order", "inventory", "shipment", "payment", "return"}


def test_every_event_class_maps_to_its_type_and_name_and_back() -> None:
    for aggregate_type, classes in events_by_aggregate_type().items():
        assert classes, aggregate_type
        for name, cls in classes.items():
            assert event_name(cls) == (aggregate_type, name)
            assert event_classes(aggregate_type)[name] is cls


def test_the_library_base_classes_are_not_events_of_ours() -> None:
    assert "Event" not in event_classes("order")
    assert "Created" not in event_classes("order")
    with pytest.raises(KeyError):
        event_name(Order.Event)


def test_the_events_the_engine_relies_on_are_registered() -> None:
    order_events = event_classes("order")
    for name in (
        "OrderPlaced", "LineReserved", "OrderConfirmed", "OrderRejected", "PreOrdered",
        "OrderHeld", "OrderReleased", "OrderCancelled", "OrderAllocated", "LineShipped",
        "OrderShipped", "OrderDelivered", "OrderCompleted", "PaymentRecorded", "LineAdded",
        "LineRemoved", "QuantityChanged", "AddressChanged", "PaymentDue", "RefundDue",
    ):  # fmt: skip
        assert name in order_events
    assert event_name(type(InventoryItem.register("SKU-1", "WH-SH").collect_events()[0])) == (
        "inventory",
        "ItemRegistered",
    )
