"""The carrier simulator's parcels: every planned life is one a real parcel could live."""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from oms_events.carriersim import formats
from oms_events.carriersim.carriers import cod_due, order_facts
from oms_events.carriersim.life import (
    MARKET_SHARE,
    End,
    Life,
    Odds,
    destination_city,
    intercept,
    pick_carrier,
    plan,
    waybill_number,
)
from oms_events.waybills.formats import waybill_format

ENDING = {"delivered": End.DELIVERED, "returned_to_sender": End.RETURNED}


def problems(life: Life, odds: Odds) -> list[str]:
    """What makes a life impossible (empty when it is a valid one)."""
    found: list[str] = []
    scans = life.scans
    if not scans or scans[0].status != "in_transit":
        found.append("does not start with a collection scan")
    if any(b.hours <= a.hours for a, b in itertools.pairwise(scans)):
        found.append("hours do not strictly increase")
    for i, scan in enumerate(scans):
        before = scans[i - 1].status if i else None
        if scan.status in ENDING and i != len(scans) - 1:
            found.append(f"{scan.status} is not the last scan")
        if scan.status == "delivery_failed" and before != "out_for_delivery":
            found.append("a failed attempt without going out for delivery")
        if scan.status == "delivered" and before != "out_for_delivery":
            found.append("delivered without going out for delivery")
        if scan.status == "in_transit" and "out_for_delivery" in {s.status for s in scans[:i]}:
            found.append("back in transit after going out for delivery")
        if scan.status == "delivered" and not scan.signer:
            found.append("delivered without a signer")
        if scan.status in ("delivery_failed", "returned_to_sender") and not scan.reason:
            found.append(f"{scan.status} without a reason")
    last = scans[-1].status if scans else None
    if life.end is End.LOST:
        if last != "in_transit":
            found.append("a lost parcel's last scan is not in transit")
    elif ENDING.get(last or "") is not life.end:
        found.append(f"ends {life.end} but the last scan is {last}")
    if sum(s.status == "delivery_failed" for s in scans) > odds.max_attempts:
        found.append("more failed attempts than allowed")
    return found


odds_strategy = st.builds(
    Odds,
    failure_rate=st.floats(0, 0.9),
    refusal_rate=st.floats(0, 0.1),
    lost_rate=st.floats(0, 1),
    max_attempts=st.integers(1, 5),
)


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), odds=odds_strategy, customer=st.none() | st.text())
def test_every_life_is_valid_and_ends_delivered_returned_or_lost(
    seed: int, odds: Odds, customer: str | None
) -> None:
    life = plan(random.Random(seed), "深圳", "杭州", odds, customer)
    assert problems(life, odds) == []


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), odds=odds_strategy, data=st.data())
def test_an_intercepted_life_is_still_valid_and_ends_returned(
    seed: int, odds: Odds, data: st.DataObject
) -> None:
    life = plan(random.Random(seed), "深圳", "杭州", odds)
    scanned = data.draw(st.integers(0, len(life.scans)))
    hours = data.draw(st.floats(0, 200))
    back = intercept(life, scanned, hours)
    finished = any(s.status in ENDING for s in life.scans[:scanned])
    if life.end is End.LOST or finished:
        assert back is None  # too late, or nobody can find it: delivery goes on
        return
    assert back is not None
    kept = max(scanned, 1)  # an uncollected parcel is still collected first
    assert back.end is End.RETURNED and back.scans[:kept] == life.scans[:kept]
    assert back.scans[-1].status == "returned_to_sender"
    assert problems(back, odds) == []


def test_the_same_seed_gives_the_same_life() -> None:
    a = plan(random.Random(42), "深圳", "北京", Odds())
    b = plan(random.Random(42), "深圳", "北京", Odds())
    assert a == b


def test_the_rates_show_over_many_parcels() -> None:
    rng = random.Random(1)
    odds = Odds(failure_rate=0.3, refusal_rate=0.05, lost_rate=0.05, max_attempts=3)
    lives = [plan(rng, "深圳", "杭州", odds) for _ in range(4000)]
    ends = {end: sum(life.end is end for life in lives) / len(lives) for end in End}
    assert 0.03 < ends[End.LOST] < 0.07
    # Returned: refused at some attempt, or failed three times.
    assert 0.06 < ends[End.RETURNED] < 0.16
    retried = sum(any(s.status == "delivery_failed" for s in life.scans) for life in lives)
    assert retried / len(lives) > 0.2


def test_waybill_numbers_follow_each_carriers_numbering() -> None:
    rng = random.Random(3)
    for carrier in MARKET_SHARE:
        numbers = {waybill_number(carrier, rng) for _ in range(50)}
        assert len(numbers) == 50
        assert all(waybill_format(carrier).is_valid(n) for n in numbers), numbers
    assert {pick_carrier(rng) for _ in range(300)} == set(MARKET_SHARE)


def test_cities_are_written_as_carriers_write_them() -> None:
    assert destination_city("深圳市") == "深圳"
    assert destination_city(None) == "深圳"


PLACED = {
    "order_no": "SIM-1",
    "currency": "CNY",
    "payment_method": "cod",
    "address": {"city": "杭州市"},
    "customer": {"name": "张三"},
    "shipping_fee": {"amount": 1000, "currency": "CNY"},
    "lines": [
        {
            "line_no": 1,
            "quantity": 2,
            "unit_price": {"amount": 9900, "currency": "CNY"},
            "discount": {"amount": 800, "currency": "CNY"},
        },
        {
            "line_no": 2,
            "quantity": 1,
            "unit_price": {"amount": 5000, "currency": "CNY"},
            "discount": {"amount": 0, "currency": "CNY"},
        },
    ],
    "tenders": [],
}


def test_a_cod_order_owes_each_parcel_its_lines_and_the_first_the_shipping_fee() -> None:
    facts = order_facts(PLACED)
    assert (facts.city, facts.customer) == ("杭州", "张三")
    assert cod_due(facts, [1]) == 2 * 9900 - 800 + 1000
    assert cod_due(facts, [2]) == 5000
    # One parcel with everything: the order's whole total.
    assert cod_due(facts, [1, 2]) == 2 * 9900 - 800 + 5000 + 1000


def test_a_split_payment_owes_only_its_cod_tender_and_a_paid_order_nothing() -> None:
    split = {
        **PLACED,
        "payment_method": "alipay",
        "tenders": [
            {"method": "alipay", "amount": {"amount": 20000, "currency": "CNY"}},
            {"method": "cod", "amount": {"amount": 4000, "currency": "CNY"}},
        ],
    }
    facts = order_facts(split)
    assert cod_due(facts, [1]) == 4000
    assert cod_due(facts, [2]) == 0
    paid = order_facts({**PLACED, "payment_method": "alipay"})
    assert cod_due(paid, [1, 2]) == 0


def test_a_delivered_cod_scan_in_the_generic_format() -> None:
    life = plan(random.Random(5), "深圳", "杭州", Odds(failure_rate=0, lost_rate=0, refusal_rate=0))
    delivered = life.scans[-1]
    at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    push = json.loads(
        formats.encode(formats.generic("SF", "SF1234567890123", delivered, at, cod=(12900, "CNY")))
    )
    assert push["format"] == "generic" and push["status"] == "delivered"
    assert push["occurred_at"] == "2026-12-01T10:00:00+08:00"
    assert push["signer"] and push["cod_collected"] == {"amount": 12900, "currency": "CNY"}


def test_a_failed_attempt_in_sf_route_format() -> None:
    odds = Odds(failure_rate=1.0, refusal_rate=0, lost_rate=0, max_attempts=1)
    life = plan(random.Random(5), "深圳", "杭州", odds)
    failed = next(s for s in life.scans if s.status == "delivery_failed")
    at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    route = formats.sf_route("SF1234567890123", "SIM-1", failed, at, "r1")["Body"]["WaybillRoute"]
    assert route[0]["mailno"] == "SF1234567890123"
    assert route[0]["opCode"] == "70" and route[0]["acceptTime"] == "2026-12-01 10:00:00"
    assert failed.reason and failed.reason in route[0]["remark"]
    assert [s.op_code for s in life.scans][-1] == "99"  # one attempt allowed: back to sender
