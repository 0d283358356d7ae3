"""A shipment's e-waybill: assigned once before it leaves; the label's number is kept."""

from __future__ import annotations

from uuid import UUID

import pytest

from oms_events.domain.errors import InvalidCarrier, InvalidTransition, WaybillConflict
from tests.unit.domain.samples import replay, shipment, state

ORDER, RESERVATION = UUID(int=100), UUID(int=1)


def test_a_waybill_is_recorded_with_its_wave_and_survives_a_replay() -> None:
    s = shipment(ORDER, RESERVATION)
    s.assign_waybill("SF", "SF1000000000001", "W-WH-SH-1")
    events = s.collect_events()
    assert type(events[-1]).__name__ == "WaybillAssigned"
    assert events[-1].wave == "W-WH-SH-1"  # type: ignore[attr-defined]
    again = replay(events)
    assert (again.carrier, again.tracking_no) == ("SF", "SF1000000000001")
    assert state(again) == state(s)


def test_the_same_waybill_again_changes_nothing() -> None:
    s = shipment(ORDER, RESERVATION)
    s.assign_waybill("SF", "SF1000000000001", "W-1")
    s.collect_events()
    s.assign_waybill("SF", "SF1000000000001", "W-2")
    assert s.collect_events() == []


def test_a_second_different_waybill_is_refused_naming_the_first() -> None:
    s = shipment(ORDER, RESERVATION)
    s.assign_waybill("SF", "SF1000000000001", "W-1")
    with pytest.raises(WaybillConflict) as refused:
        s.assign_waybill("ZTO", "751000000001", "W-2")
    assert "SF1000000000001" in refused.value.message("zh")


def test_no_waybill_once_shipped_and_none_without_a_number() -> None:
    s = shipment(ORDER, RESERVATION)
    with pytest.raises(InvalidCarrier):
        s.assign_waybill("SF", " ", "W-1")
    s.pick()
    s.pack()
    s.ship("SF", "SF1000000000009")
    with pytest.raises(WaybillConflict):
        s.assign_waybill("SF", "SF1000000000001", "W-1")
    s2 = shipment(ORDER, UUID(int=2))
    s2.cancel("customer cancelled")
    with pytest.raises(InvalidTransition):
        s2.assign_waybill("SF", "SF1000000000001", "W-1")


def test_the_warehouse_ships_under_the_assigned_waybill() -> None:
    s = shipment(ORDER, RESERVATION)
    s.assign_waybill("YTO", "YT7000000000001", "W-1")
    s.pick()
    s.pack()
    s.ship("YTO", "YT7000000000001")
    assert s.status.value == "shipped"
