"""Carrier feeds repeat and reorder scans: whatever order they come in, a shipment
stays consistent, and its events rebuild it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from uuid import UUID

from consumers import tracking
from hypothesis import given, settings
from hypothesis import strategies as st

from oms_events import eventlog
from oms_events.avro.codec import SingleObjectCodec
from oms_events.carriers.scan import STATUSES
from oms_events.domain import Shipment, ShipmentStatus
from oms_events.domain.shipment import FINAL
from oms_events.projection import rows
from tests.unit.domain.samples import replay, shipment, state

T0 = datetime(2026, 11, 29, tzinfo=UTC)
LOG = eventlog.EventLog(SingleObjectCodec())

# (status, minutes after T0): a scan; the same pair twice is the same scan again.
scans = st.lists(
    st.tuples(st.sampled_from(STATUSES), st.integers(min_value=0, max_value=30)),
    min_size=1,
    max_size=12,
)


def shipped() -> Shipment:
    s = shipment(UUID(int=7), UUID(int=8))
    s.pick()
    s.pack()
    s.ship("SF", "SF100")
    return s


def apply(s: Shipment, feed: list[tuple[str, int]]) -> None:
    for status, minute in feed:
        s.record_scan(
            status,
            T0 + timedelta(minutes=minute),
            location=f"hub-{minute}",
            reason="nobody home" if status != "in_transit" else None,
        )


@settings(max_examples=300, deadline=None)
@given(scans, st.randoms(use_true_random=False))
def test_any_order_of_repeated_scans_leaves_a_consistent_shipment(
    feed: list[tuple[str, int]], rnd: random.Random
) -> None:
    s = shipped()
    shuffled = feed + feed  # every scan at least twice
    rnd.shuffle(shuffled)
    apply(s, shuffled)
    events = s.collect_events()
    # Whatever came, the events rebuild exactly this shipment...
    assert state(replay(events)) == state(s)
    # ...and the tracking projection folds them to the same status, failures and times.
    records = [LOG.record(eventlog.Record(LOG.encode(e)[1])) for e in events]
    row = rows.fold(records, {}, tracking.SHIPMENT_HANDLERS, {"ShipmentCreated"})[s.id]
    assert (row["status"], row["failed_attempts"]) == (s.status.value, len(s.failures))
    assert (row["last_scan_at"], row.get("delivered_at")) == (s.last_scan_at, s.delivered_at)
    # Each distinct failed attempt counted once, however often it was pushed.
    assert len(s.failures) <= len({m for st_, m in feed if st_ == "delivery_failed"})
    # The status is one a parcel can be in, and the newest scan is remembered.
    assert s.status in (
        *FINAL,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.DELIVERY_FAILED,
    )
    assert s.last_scan_at is not None and s.last_scan_at <= T0 + timedelta(minutes=30)
    # Once delivered or returned, pushing the whole feed again changes nothing.
    if s.status in FINAL:
        apply(s, shuffled)
        assert s.collect_events() == []


@settings(max_examples=200, deadline=None)
@given(scans)
def test_scans_in_time_order_end_in_the_status_of_the_first_final_or_last_scan(
    feed: list[tuple[str, int]],
) -> None:
    s = shipped()
    ordered = sorted(set(feed), key=lambda scan: (scan[1], STATUSES.index(scan[0])))
    apply(s, ordered)
    finals = [st_ for st_, _ in ordered if st_ in ("delivered", "returned_to_sender")]
    expected = finals[0] if finals else ordered[-1][0]
    names = {"returned_to_sender": "returned"}
    assert s.status.value == names.get(expected, expected)
