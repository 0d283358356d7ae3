"""InventoryItem: available = on_hand - reserved, never oversold, exactly-once reservations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from oms_events.domain import InventoryItem, ReservationOutcome
from oms_events.domain.errors import (
    InsufficientStock,
    InvalidQuantity,
    InvalidThreshold,
    ReasonRequired,
    ReservationConflict,
    StockAdjustmentInvalid,
    UnknownReservation,
)
from oms_events.domain.inventory import SETTLED_MEMORY
from tests.unit.domain.samples import item, replay, state

ORDER = UUID(int=100)
R1, R2, R3 = UUID(int=1), UUID(int=2), UUID(int=3)


def names(i: InventoryItem) -> list[str]:
    return [type(e).__name__ for e in i.collect_events()]


def test_the_item_id_is_derived_from_sku_and_location() -> None:
    i = InventoryItem.register("SKU-1", "WH-SH")
    assert (
        i.id == InventoryItem.id_for("SKU-1", "WH-SH") == InventoryItem.create_id("SKU-1", "WH-SH")
    )
    assert InventoryItem.id_for("SKU-1", "WH-BJ") != i.id
    # The key is unambiguous even when a sku contains the separator.
    assert InventoryItem.id_for("A:B", "C") != InventoryItem.id_for("A", "B:C")


def test_receiving_adds_to_on_hand_and_available() -> None:
    i = item(on_hand=0)
    i.receive(12, "PO-7")
    assert (i.on_hand, i.reserved, i.available) == (12, 0, 12)


def test_a_reservation_moves_units_from_available_to_reserved() -> None:
    i = item(on_hand=10)
    i.reserve(R1, ORDER, 4)
    assert (i.on_hand, i.reserved, i.available) == (10, 4, 6)
    assert i.reservations == {R1: (ORDER, 4)}


def test_reserving_more_than_available_raises_insufficient_stock() -> None:
    i = item(on_hand=3)
    i.reserve(R1, ORDER, 2)
    i.collect_events()
    with pytest.raises(InsufficientStock) as raised:
        i.reserve(R2, ORDER, 2)
    assert raised.value.context == {
        "sku": "SKU-1",
        "location": "WH-SH",
        "requested": 2,
        "available": 1,
    }
    assert names(i) == []


def test_try_reserve_records_why_a_reservation_was_rejected() -> None:
    i = item(on_hand=1)
    i.collect_events()
    assert i.try_reserve(R1, ORDER, 2) is ReservationOutcome.REJECTED
    (rejected,) = i.collect_events()
    assert type(rejected).__name__ == "ReservationRejected"
    assert (rejected.available, rejected.reason) == (1, "stock.insufficient")  # type: ignore[attr-defined]
    assert i.reserved == 0
    assert i.try_reserve(R1, ORDER, 1) is ReservationOutcome.RESERVED


def test_reserving_the_same_id_twice_has_no_second_effect() -> None:
    i = item(on_hand=10)
    i.reserve(R1, ORDER, 4)
    i.collect_events()
    i.reserve(R1, ORDER, 4)
    assert i.try_reserve(R1, ORDER, 4) is ReservationOutcome.DUPLICATE
    assert names(i) == []
    assert i.reserved == 4


def test_a_reservation_id_reused_for_another_quantity_is_a_conflict() -> None:
    i = item(on_hand=10)
    i.reserve(R1, ORDER, 4)
    with pytest.raises(ReservationConflict):
        i.reserve(R1, ORDER, 5)


def test_a_redelivered_reserve_after_release_does_not_reserve_again() -> None:
    i = item(on_hand=10)
    i.reserve(R1, ORDER, 4)
    i.release(R1)
    i.reserve(R1, ORDER, 4)
    assert i.reserved == 0


def test_release_returns_units_to_available_once() -> None:
    i = item(on_hand=10)
    i.reserve(R1, ORDER, 4)
    i.release(R1)
    i.release(R1)
    assert (i.on_hand, i.reserved, i.available) == (10, 0, 10)
    assert names(i).count("ReservationReleased") == 1


def test_releasing_an_unknown_reservation_is_an_error() -> None:
    with pytest.raises(UnknownReservation):
        item().release(R1)


def test_commit_at_shipment_drops_on_hand_and_reserved() -> None:
    i = item(on_hand=10)
    i.reserve(R1, ORDER, 4)
    i.commit(R1)
    i.commit(R1)
    assert (i.on_hand, i.reserved, i.available) == (6, 0, 6)
    with pytest.raises(ReservationConflict):
        i.release(R1)


def test_a_released_reservation_cannot_be_committed() -> None:
    i = item(on_hand=10)
    i.reserve(R1, ORDER, 4)
    i.release(R1)
    with pytest.raises(ReservationConflict):
        i.commit(R1)


def test_units_of_a_released_reservation_that_shipped_anyway_leave_on_hand_once() -> None:
    i = item(on_hand=10)
    i.reserve(R1, ORDER, 4)
    i.release(R1)  # the order was cancelled
    i.collect_events()
    i.ship_released(R1, 4)  # ... and the warehouse shipped it before it heard
    i.ship_released(R1, 4)  # its confirmation, redelivered
    assert [type(e).__name__ for e in i.collect_events()] == ["ReleasedStockShipped"]
    assert (i.on_hand, i.reserved, i.available) == (6, 0, 6)


def test_released_units_sold_again_are_not_shipped_twice() -> None:
    i = item(on_hand=4)
    i.reserve(R1, ORDER, 4)
    i.release(R1)
    i.reserve(R2, ORDER, 3)  # sold again meanwhile
    with pytest.raises(InsufficientStock):
        i.ship_released(R1, 4)  # available would go negative: an operator recounts
    assert (i.on_hand, i.available) == (4, 1)


def test_shipping_a_reservation_still_open_commits_it() -> None:
    i = item(on_hand=10)
    i.reserve(R1, ORDER, 4)
    i.ship_released(R1, 4)
    assert i.closed_as(R1) == "committed" and (i.on_hand, i.reserved) == (6, 0)
    with pytest.raises(UnknownReservation):
        i.ship_released(R2, 1)


def test_adjustments_need_a_reason() -> None:
    with pytest.raises(ReasonRequired):
        item().adjust(-1, "")


def test_an_adjustment_never_goes_below_what_is_reserved() -> None:
    i = item(on_hand=10)
    i.reserve(R1, ORDER, 8)
    with pytest.raises(StockAdjustmentInvalid):
        i.adjust(-3, "damaged")
    i.adjust(-2, "damaged")
    assert (i.on_hand, i.available) == (8, 0)


def test_an_adjustment_never_goes_below_zero() -> None:
    with pytest.raises(StockAdjustmentInvalid):
        item(on_hand=2).adjust(-3, "count")


@pytest.mark.parametrize("quantity", [0, -1])
def test_receipts_and_reservations_need_positive_quantities(quantity: int) -> None:
    i = item()
    with pytest.raises(InvalidQuantity):
        i.receive(quantity, "PO")
    with pytest.raises(InvalidQuantity):
        i.reserve(R1, ORDER, quantity)


def test_a_return_is_restocked_once() -> None:
    i = item(on_hand=0)
    i.restock(R3, 2)
    i.restock(R3, 2)
    assert i.on_hand == 2


def test_low_stock_is_recorded_once_per_crossing() -> None:
    i = item(on_hand=10, threshold=3)
    i.collect_events()
    i.reserve(R1, ORDER, 8)  # available 2: crosses below
    i.reserve(R2, ORDER, 1)  # still low: nothing new
    assert names(i) == ["StockReserved", "LowStock", "StockReserved"]
    i.release(R1)  # available 9: back above
    assert names(i) == ["ReservationReleased", "StockReplenished"]
    i.adjust(-7, "damaged")  # available 1: crosses again
    assert names(i) == ["StockAdjusted", "LowStock"]


def test_raising_the_threshold_can_make_an_item_low() -> None:
    i = item(on_hand=5)
    i.collect_events()
    i.set_threshold(6)
    assert names(i) == ["ThresholdSet", "LowStock"]
    with pytest.raises(InvalidThreshold):
        i.set_threshold(-1)


def test_replaying_the_events_rebuilds_the_same_item() -> None:
    i = item(on_hand=10, threshold=2)
    i.reserve(R1, ORDER, 3)
    i.try_reserve(R2, ORDER, 50)
    i.reserve(R2, ORDER, 6)
    i.commit(R1)
    i.release(R2)
    i.restock(R3, 1)
    rebuilt = replay(i.collect_events())
    assert state(rebuilt) == state(i)


def test_settled_reservations_leave_the_item_after_the_settled_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A settled reservation is remembered (a redelivery has no second effect) for at
    least SETTLED_MEMORY of event time, then forgotten; a replay forgets it alike."""
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    monkeypatch.setattr(InventoryItem.Event, "create_timestamp", staticmethod(lambda: clock[0]))
    item = InventoryItem.register("SKU-1", "WH-SH")
    item.receive(10, "po")
    first, second, third, order = uuid4(), uuid4(), uuid4(), uuid4()
    item.reserve(first, order, 1)
    item.release(first)
    later = SETTLED_MEMORY + timedelta(seconds=1)
    clock[0] += later
    item.reserve(second, order, 1)
    item.commit(second)  # a new generation: the first is still remembered
    assert item.try_reserve(first, order, 1) is ReservationOutcome.DUPLICATE
    clock[0] += later
    item.reserve(third, order, 1)
    item.release(third)  # another generation: the first is forgotten
    assert item.closed_as(first) is None
    assert item.closed_as(second) == "committed"
    assert state(replay(item.collect_events())) == state(item)
