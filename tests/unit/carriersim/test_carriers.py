"""The carriers without Kafka: hand-overs in, pushes out when their scans are due."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from oms_events.carriersim.carriers import Carriers
from oms_events.eventlog import EventRecord
from oms_events.settings import CarrierSimSettings
from tests.unit.carriersim.test_life import PLACED

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
SCALE = 3600.0  # one simulated hour per real second: hours and seconds read alike


def event(name: str, originator: uuid.UUID, **payload: Any) -> EventRecord:
    return EventRecord("x", name, originator, 1, T0, payload)


def shipped(carriers: Carriers, carrier: str, tracking_no: str, cod: bool = True) -> None:
    order, shipment = uuid.uuid4(), uuid.uuid4()
    placed = PLACED if cod else {**PLACED, "payment_method": "alipay"}
    carriers.on_event(event("OrderPlaced", order, **placed), 0.0)
    lines = [{"line_no": 1, "sku": "A", "quantity": 2}, {"line_no": 2, "sku": "B", "quantity": 1}]
    carriers.on_event(
        event("ShipmentCreated", shipment, order_id=order, location="WH-01", lines=lines), 0.0
    )
    carriers.on_event(
        event("ShipmentShipped", shipment, carrier=carrier, tracking_no=tracking_no), 0.0
    )


def run_out(carriers: Carriers, until: float = 10_000.0) -> list[dict[str, Any]]:
    """Every push until ``until`` seconds, in order, as JSON."""
    pushes = []
    now = 0.0
    while carriers.next_due() is not None and now < until:
        now = carriers.next_due() or now
        pushes += [json.loads(p.value) for p in carriers.pushes_due(now, T0)]
    return pushes


def config(**changes: Any) -> CarrierSimSettings:
    base = {"time_scale": SCALE, "seed": 11, "lost_rate": 0.0, "refusal_rate": 0.0}
    return CarrierSimSettings(**{**base, **changes})


def test_a_cod_parcel_is_delivered_in_the_generic_format_with_its_cash() -> None:
    carriers = Carriers(config(failure_rate=0.0, sf_format_share=1.0))
    shipped(carriers, "SF", "SF0000000000001")
    pushes = run_out(carriers)
    assert {p["format"] for p in pushes} == {"generic"}  # SF's push cannot carry cash
    assert pushes[0]["status"] == "in_transit" and pushes[-1]["status"] == "delivered"
    assert pushes[-1]["cod_collected"] == {
        "amount": 2 * 9900 - 800 + 5000 + 1000,
        "currency": "CNY",
    }
    assert all(p["cod_collected"] is None for p in pushes[:-1])
    assert all(p["eta"] for p in pushes if p["status"] == "in_transit")
    assert carriers.tally.delivered == 1 and not carriers.parcels


def test_a_prepaid_sf_parcel_may_speak_sf_route_format() -> None:
    carriers = Carriers(config(failure_rate=0.0, sf_format_share=1.0))
    shipped(carriers, "SF", "SF0000000000002", cod=False)
    pushes = run_out(carriers)
    routes = [p["Body"]["WaybillRoute"][0] for p in pushes]
    assert routes[0]["opCode"] == "50" and routes[-1]["opCode"] == "80"
    assert {r["mailno"] for r in routes} == {"SF0000000000002"}
    assert "签收人：" in routes[-1]["remark"]  # where SF names the signer


def test_nothing_is_pushed_before_its_hour() -> None:
    carriers = Carriers(config())
    shipped(carriers, "ZTO", "730000000001")
    first = carriers.next_due()
    assert first is not None and first >= 0.5  # collected at least half an hour after hand-over
    assert carriers.pushes_due(first - 0.01, T0) == []
    assert len(carriers.pushes_due(first, T0)) == 1


def test_a_redelivered_hand_over_is_one_parcel() -> None:
    carriers = Carriers(config())
    shipped(carriers, "YTO", "YT0000000000001")
    carriers.on_event(
        event("ShipmentShipped", uuid.uuid4(), carrier="YTO", tracking_no="YT0000000000001"), 0.0
    )
    assert carriers.tally.parcels == 1


def test_an_intercepted_parcel_comes_back_and_a_delivered_one_cannot_be() -> None:
    carriers = Carriers(config(failure_rate=0.0, intercept_success_rate=1.0))
    shipped(carriers, "STO", "7700000000001")
    shipped(carriers, "STO", "7700000000002")
    # Both collected by 3 h (the latest collection), neither at a hub yet (3.5 h at the soonest).
    assert len(carriers.pushes_due(3.0, T0)) == 2
    assert carriers.on_intercept("7700000000001", 3.0)
    assert carriers.on_intercept("7700000000001", 3.1)  # asked twice: intercepted once
    pushes = run_out(carriers)
    back = [p for p in pushes if p["tracking_no"] == "7700000000001"]
    assert [p["status"] for p in back] == ["returned_to_sender"]
    assert back[0]["reason"]
    assert not carriers.on_intercept("7700000000002", 10_000.0)  # delivered: too late
    assert (carriers.tally.intercepts_done, carriers.tally.intercepts_refused) == (1, 1)


def test_an_interception_that_fails_leaves_the_parcel_on_its_way() -> None:
    carriers = Carriers(config(failure_rate=0.0, intercept_success_rate=0.0))
    shipped(carriers, "JD", "JDVA00000000001")
    assert not carriers.on_intercept("JDVA00000000001", 0.0)
    assert run_out(carriers)[-1]["status"] == "delivered"


def test_every_parcel_ends_and_failed_attempts_are_retried() -> None:
    carriers = Carriers(config(failure_rate=0.5))
    for n in range(40):
        shipped(carriers, "ZTO", f"7300000000{n:02d}", cod=False)
    pushes = run_out(carriers, until=10**6)
    assert carriers.tally.delivered + carriers.tally.returned == 40 and not carriers.parcels
    by_parcel: dict[str, list[str]] = {}
    for p in pushes:
        by_parcel.setdefault(p["tracking_no"], []).append(p["status"])
    retried = [s for s in by_parcel.values() if "delivery_failed" in s and s[-1] == "delivered"]
    assert retried  # a failed attempt, then delivered on a later round


def test_a_return_parcel_travels_to_the_warehouse_and_is_signed_for() -> None:
    carriers = Carriers(config(failure_rate=1.0, refusal_rate=1.0, sf_format_share=0.0))
    ret = uuid.uuid4()
    carriers.on_event(event("ReturnShipped", ret, carrier="ZTO", tracking_no="780000000001"), 0.0)
    pushes = run_out(carriers)
    # The warehouse is always in: no failed attempt, no refusal, whatever the odds.
    assert [p["status"] for p in pushes][-2:] == ["out_for_delivery", "delivered"]
    assert pushes[-1]["location"] == "退货仓" and pushes[-1]["cod_collected"] is None


def test_the_simulator_remembers_only_recent_orders() -> None:
    from oms_events.carriersim.carriers import Recent

    recent: Recent[str, int] = Recent(2)
    for n, key in enumerate("abc"):
        recent[key] = n
    assert list(recent) == ["b", "c"]
