"""Whatever parcels are handed over, intercepted or asked about and whenever the loop
wakes, every parcel's pushes are a life it could live: one collection first, scan
times that never go back, at most one end (delivered or returned), nothing after it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from oms_events.carriersim.carriers import Carriers
from oms_events.eventlog import EventRecord
from oms_events.settings import CarrierSimSettings

T0 = datetime(2026, 12, 1, tzinfo=UTC)
ENDS = {"delivered", "returned_to_sender"}

steps = st.lists(
    st.one_of(
        st.tuples(st.just("ship"), st.integers(0, 9)),
        st.tuples(st.just("intercept"), st.integers(0, 9)),
        st.tuples(st.just("wait"), st.floats(0.01, 30.0)),
    ),
    max_size=60,
)


def shipped(n: int) -> list[EventRecord]:
    order, shipment = (
        uuid.uuid5(uuid.NAMESPACE_OID, f"o{n}"),
        uuid.uuid5(uuid.NAMESPACE_OID, f"s{n}"),
    )
    line = {"line_no": 1, "sku": "TEA", "quantity": 1}
    placed: dict[str, Any] = {
        "order_no": f"SIM-{n}",
        "payment_method": "cod" if n % 2 else "alipay",
        "address": {"city": "杭州市"},
        "customer": {"name": "张三"},
        "currency": "CNY",
        "shipping_fee": {"amount": 0, "currency": "CNY"},
        "lines": [
            {
                **line,
                "unit_price": {"amount": 100, "currency": "CNY"},
                "discount": {"amount": 0, "currency": "CNY"},
            }
        ],
        "tenders": [],
    }
    return [
        EventRecord("order", "OrderPlaced", order, 1, T0, placed),
        EventRecord(
            "shipment",
            "ShipmentCreated",
            shipment,
            1,
            T0,
            {"order_id": order, "location": "WH-00", "lines": [line]},
        ),
        EventRecord(
            "shipment",
            "ShipmentShipped",
            shipment,
            4,
            T0,
            {"carrier": "SF", "tracking_no": f"SF{n:013d}"},
        ),
    ]


@settings(max_examples=150, deadline=None)
@given(
    steps=steps,
    failure=st.floats(0, 0.9),
    lost=st.floats(0, 0.5),
    success=st.floats(0, 1),
    sf=st.floats(0, 1),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_parcels_pushes_are_a_life(
    steps: list[tuple[str, Any]], failure: float, lost: float, success: float, sf: float, seed: int
) -> None:
    carriers = Carriers(
        CarrierSimSettings(
            time_scale=3600.0,  # an hour a second
            failure_rate=failure,
            lost_rate=lost,
            intercept_success_rate=success,
            sf_format_share=sf,
            seed=seed,
        )
    )
    now = 0.0
    pushes: list[tuple[str, str, datetime]] = []

    def drain(until: float) -> None:
        for p in carriers.pushes_due(until, T0 + timedelta(seconds=until)):
            body = json.loads(p.value)
            if p.format == "generic":
                status = body["status"]
            else:
                code = body["Body"]["WaybillRoute"][0]["opCode"]
                status = {
                    "44": "out_for_delivery",
                    "80": "delivered",
                    "70": "delivery_failed",
                    "99": "returned_to_sender",
                }.get(code, "in_transit")
            pushes.append((p.tracking_no, status, T0 + timedelta(seconds=until)))

    for action, value in steps:
        if action == "ship":
            for record in shipped(value):
                carriers.on_event(record, now)
        elif action == "intercept":
            carriers.on_intercept(f"SF{value:013d}", now)
        else:
            now += value
            drain(now)
    drain(now + 10**6)  # let every life run out
    assert not carriers.parcels and carriers.next_due() is None
    by_parcel: dict[str, list[tuple[str, datetime]]] = {}
    for tracking_no, status, at in pushes:
        by_parcel.setdefault(tracking_no, []).append((status, at))
    for tracking_no, scans in by_parcel.items():
        statuses = [s for s, _ in scans]
        assert statuses[0] == "in_transit", (tracking_no, statuses)
        assert [at for _, at in scans] == sorted(at for _, at in scans)
        ends = [i for i, s in enumerate(statuses) if s in ENDS]
        assert len(ends) <= 1 and (not ends or ends[0] == len(statuses) - 1), statuses
    t = carriers.tally
    assert (
        t.delivered + t.returned + t.lost == t.parcels == len({n for a, n in steps if a == "ship"})
    )
