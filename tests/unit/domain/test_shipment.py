"""Shipment: warehouse and carrier steps in order; repeated carrier reports change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import pytest

from oms_events.domain import Shipment, ShipmentLine, ShipmentStatus
from oms_events.domain.errors import (
    InvalidCarrier,
    InvalidOrder,
    InvalidTransition,
    ReasonRequired,
)
from tests.unit.domain.samples import replay, shipment, state

ORDER, RESERVATION = UUID(int=100), UUID(int=1)


def shipped() -> Shipment:
    s = shipment(ORDER, RESERVATION)
    s.pick()
    s.pack()
    s.ship("SF Express", "SF100")
    return s


def test_one_shipment_per_order_and_location() -> None:
    assert shipment(ORDER, RESERVATION).id == Shipment.create_id(ORDER, "WH-SH")
    assert Shipment.create_id(ORDER, "WH-BJ") != Shipment.create_id(ORDER, "WH-SH")


def test_a_shipment_needs_lines() -> None:
    with pytest.raises(InvalidOrder):
        Shipment.create(ORDER, "WH-SH", [])


def test_picked_packed_shipped_delivered() -> None:
    s = shipped()
    assert (s.carrier, s.tracking_no, s.status) == ("SF Express", "SF100", ShipmentStatus.SHIPPED)
    s.record_in_transit("Shanghai hub")
    s.deliver()
    assert s.status is ShipmentStatus.DELIVERED
    assert [type(e).__name__ for e in s.collect_events()] == [
        "ShipmentCreated",
        "ShipmentPicked",
        "ShipmentPacked",
        "ShipmentShipped",
        "ShipmentInTransit",
        "ShipmentDelivered",
    ]


def test_cannot_ship_before_packing() -> None:
    s = shipment(ORDER, RESERVATION)
    s.pick()
    with pytest.raises(InvalidTransition):
        s.ship("SF Express", "SF100")


def test_shipping_needs_carrier_and_tracking_number() -> None:
    s = shipment(ORDER, RESERVATION)
    s.pick()
    s.pack()
    with pytest.raises(InvalidCarrier):
        s.ship("SF Express", "")


def test_repeated_warehouse_and_carrier_reports_record_nothing() -> None:
    s = shipped()
    s.collect_events()
    s.ship("SF Express", "SF100")
    assert s.collect_events() == []
    s.deliver()
    s.collect_events()
    s.deliver()
    assert s.collect_events() == []


def test_a_failed_delivery_can_be_retried_or_returned() -> None:
    s = shipped()
    s.fail_delivery("nobody home")
    s.record_in_transit("second attempt")
    s.fail_delivery("refused")
    s.return_to_sender("refused twice")
    assert s.status is ShipmentStatus.RETURNED
    assert s.failures == ["nobody home", "refused"]
    with pytest.raises(InvalidTransition):
        s.deliver()


def test_only_a_shipment_still_in_the_warehouse_can_be_cancelled() -> None:
    s = Shipment.create(ORDER, "WH-BJ", [ShipmentLine(1, "SKU-1", 1, RESERVATION)])
    s.cancel("order cancelled")
    assert s.status is ShipmentStatus.CANCELLED
    with pytest.raises(InvalidTransition):
        shipped().cancel("too late")


def names(s: Shipment) -> list[str]:
    return [type(e).__name__ for e in s.collect_events()]


def test_a_cancelled_shipment_the_warehouse_shipped_anyway_is_shipped_and_intercepted() -> None:
    s = shipment(ORDER, RESERVATION)
    s.pick()
    s.cancel("order cancelled")
    s.collect_events()
    s.ship("SF", "SF200")  # the goods left: recorded, and the carrier asked to stop them
    assert names(s) == ["ShipmentShipped", "InterceptionRequested"]
    assert (s.status, s.intercepting, s.tracking_no) == (
        ShipmentStatus.SHIPPED,
        "order cancelled",
        "SF200",
    )
    s.ship("SF", "SF200")  # the warehouse repeats itself
    assert names(s) == []


def test_only_a_parcel_on_the_road_can_be_intercepted_and_once() -> None:
    with pytest.raises(InvalidTransition):
        shipment(ORDER, RESERVATION).intercept("cancelled")
    s = shipped()
    s.record_in_transit("杭州")
    s.collect_events()
    s.intercept("cancelled")
    s.intercept("cancelled again")
    assert names(s) == ["InterceptionRequested"] and s.intercepting == "cancelled"
    with pytest.raises(ReasonRequired):
        shipped().intercept(" ")


def test_a_returned_parcel_is_received_back_once() -> None:
    s = shipped()
    with pytest.raises(InvalidTransition):
        s.receive_back()  # still with the carrier
    s.intercept("cancelled")
    s.return_to_sender("intercepted")
    s.collect_events()
    assert s.receive_back() is True
    assert s.receive_back() is False  # the warehouse scans it twice
    assert names(s) == ["ParcelReceivedBack"] and s.received_back


def test_replaying_the_events_rebuilds_the_same_shipment() -> None:
    s = shipped()
    s.fail_delivery("nobody home")
    s.deliver()
    assert state(replay(s.collect_events())) == state(s)


# --- carrier scans (record_scan: the carrier feed's rules) --------------------------

T0 = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_scans_record_where_and_when_and_the_delivery_its_signer() -> None:
    s = shipped()
    s.record_scan("in_transit", at(0), location="深圳", eta=at(600))
    s.record_scan("out_for_delivery", at(300), location="上海")
    s.record_scan("delivered", at(420), location="上海", signer="李雷")
    assert s.status is ShipmentStatus.DELIVERED
    assert (s.last_scan_at, s.last_location, s.eta, s.signer) == (at(420), "上海", at(600), "李雷")
    assert s.delivered_at == at(420)
    assert state(replay(s.collect_events())) == state(s)


def test_a_repeated_scan_records_nothing_even_in_another_timezone() -> None:
    s = shipped()
    assert s.record_scan("in_transit", at(0), location="深圳")
    s.collect_events()
    china = timezone(timedelta(hours=8))
    assert not s.record_scan("in_transit", at(0).astimezone(china), location="深圳")
    assert s.collect_events() == []


def test_a_stale_scan_is_ignored_and_the_end_of_the_journey_is_final() -> None:
    s = shipped()
    s.record_scan("out_for_delivery", at(300))
    assert not s.record_scan("in_transit", at(100))  # older than what we know
    assert s.status is ShipmentStatus.OUT_FOR_DELIVERY
    assert s.record_scan("delivered", at(200))  # a delivery is never stale
    assert not s.record_scan("delivery_failed", at(500), reason="nobody home")
    assert not s.record_scan("returned_to_sender", at(600), reason="refused")
    assert s.status is ShipmentStatus.DELIVERED


def test_every_failed_attempt_counts_once() -> None:
    s = shipped()
    s.record_scan("delivery_failed", at(10), reason="nobody home")
    s.record_scan("delivery_failed", at(10), reason="nobody home")
    s.record_scan("out_for_delivery", at(20))
    s.record_scan("delivery_failed", at(30), reason="refused")
    assert s.failures == ["nobody home", "refused"]


def test_a_scan_before_the_parcel_left_is_refused() -> None:
    s = shipment(ORDER, RESERVATION)
    with pytest.raises(InvalidTransition):
        s.record_scan("in_transit", at(0))
