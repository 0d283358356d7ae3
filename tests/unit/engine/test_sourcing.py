"""Sourcing and latency figures, without Kafka."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

from oms_events.engine.latency import Latencies
from oms_events.engine.records import partition_for
from oms_events.engine.sourcing import StockView
from oms_events.eventlog import EventRecord


def _event(item: str, name: str, **payload: object) -> EventRecord:
    return EventRecord(
        "inventory", name, _IDS.setdefault(item, uuid4()), 1, datetime.now(UTC), dict(payload)
    )


_IDS: dict[str, UUID] = {}


def _view() -> StockView:
    view = StockView()
    for loc, qty in (("SH", 5), ("BJ", 2)):
        view.apply(_event(loc, "ItemRegistered", sku="TEA", location=loc, low_stock_threshold=0))
        view.apply(_event(loc, "StockReceived", quantity=qty, reason="po"))
    return view


def test_first_ask_goes_to_the_most_available_location() -> None:
    assert _view().choose("TEA", 1) == "SH"


def test_a_location_serving_the_order_comes_first_when_it_has_enough() -> None:
    view = _view()
    assert view.choose("TEA", 2, prefer={"BJ"}) == "BJ"  # one parcel instead of two
    assert view.choose("TEA", 3, prefer={"BJ"}) == "SH"  # BJ has only 2
    assert view.choose("TEA", 1, tried=["BJ"], prefer={"BJ"}) == "SH"


def test_reservations_move_the_view() -> None:
    view = _view()
    view.apply(_event("SH", "StockReserved", reservation_id=uuid4(), order_id=uuid4(), quantity=4))
    assert view.available("TEA", "SH") == 1
    assert view.choose("TEA", 1) == "BJ"


def test_a_retry_only_goes_where_the_view_sees_enough() -> None:
    view = _view()
    assert view.choose("TEA", 3, tried=["SH"]) is None
    assert view.choose("TEA", 2, tried=["SH"]) == "BJ"


def test_unknown_sku_has_no_location() -> None:
    assert _view().choose("COFFEE", 1) is None


def test_percentiles_by_nearest_rank() -> None:
    lat = Latencies()
    for v in range(1, 101):
        lat.add(v / 1000)
    assert (lat.percentile(50), lat.percentile(99)) == (0.05, 0.099)
    assert Latencies().percentile(99) == 0.0


def test_partition_matches_kafkas_default_partitioner() -> None:
    # Java's murmur2 partitioner puts key "a" on partition 4 of 6.
    assert partition_for(b"a", 6) == 4
