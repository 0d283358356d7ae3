"""Projection logic without Kafka or PostgreSQL: folds, guards, metrics, Prometheus text."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from consumers import analytics, cod, exceptions, inventory, payments, tracking
from consumers.promises import deadlines
from eventsourcing.domain import Aggregate

from oms_events import eventlog
from oms_events.avro.codec import SingleObjectCodec
from oms_events.cli.order import language
from oms_events.domain import InventoryItem
from oms_events.projection import rows
from oms_events.projection.metrics import percentile
from oms_events.projection.status import PartitionLag, render_prometheus
from tests.unit.domain.samples import legacy_order_events, shipment, todays_order


def records(aggregate: Aggregate) -> list[eventlog.EventRecord]:
    log = eventlog.EventLog(SingleObjectCodec())
    return [log.record(eventlog.Record(log.encode(e)[1])) for e in aggregate.collect_events()]


def test_inventory_fold_matches_the_aggregate_and_ignores_repeats() -> None:
    item = InventoryItem.register("SKU-1", "WH-SH", 3)
    item.receive(10, "po")
    rid = uuid.uuid4()
    item.reserve(rid, uuid.uuid4(), 4)
    item.commit(rid)
    item.reserve(uuid.uuid4(), uuid.uuid4(), 2)
    events = records(item)
    state: dict[object, rows.Row] = {}
    changed = rows.fold(events + events, state, inventory.HANDLERS, {"ItemRegistered"})
    row = changed[item.id]
    assert (row["on_hand"], row["reserved"]) == (item.on_hand, item.reserved)
    assert row["version"] == item.version
    # Shipped units (what inventory_sales_daily sums per business day) enter the ledger once.
    moves = [dict(zip(inventory.LEDGER, m, strict=True)) for m in row["_moves"]]
    assert sum(-m["on_hand_delta"] for m in moves if m["movement"] == "shipped") == 4


def test_events_of_an_unseen_aggregate_are_skipped() -> None:
    item = InventoryItem.register("SKU-2", "WH-SH", 0)
    item.receive(5, "po")
    later = records(item)[1:]
    assert rows.fold(later, {}, inventory.HANDLERS, {"ItemRegistered"}) == {}


def test_percentile_by_nearest_rank() -> None:
    assert percentile([], 0.5) == 0.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 0.99) == 99.0


def test_prometheus_text_has_lag_per_partition_and_age() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    text = render_prometheus(
        [PartitionLag("inventory", "oms.inventory.events", 0, 5, 8, at)],
        now=datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC),
    )
    assert (
        'oms_projection_lag_records{projection="inventory",topic="oms.inventory.events",'
        'partition="0"} 3'
    ) in text
    assert 'oms_projection_last_event_age_seconds{projection="inventory"} 10.000' in text


def test_order_show_speaks_chinese_when_the_locale_is_chinese(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert language() == "zh"
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert language() == "en"


def test_late_allocation_and_shipment_are_raised_once_each_and_only_when_late() -> None:
    order_id = uuid.uuid4()
    placed_at = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    allocate_by, ship_by, _ = deadlines(placed_at, "standard")

    def event(name: str, version: int, at: datetime, **payload: object) -> eventlog.EventRecord:
        return eventlog.EventRecord("order", name, order_id, version, at, dict(payload))

    row: rows.Row = {}
    handlers = exceptions.HANDLERS
    handlers["OrderPlaced"](
        row,
        event(
            "OrderPlaced",
            1,
            placed_at,
            placed_at=placed_at,
            delivery_speed="standard",
            order_no="SO-1",
        ),
    )
    handlers["OrderAllocated"](row, event("OrderAllocated", 2, allocate_by + timedelta(1)))
    handlers["OrderAllocated"](row, event("OrderAllocated", 3, allocate_by + timedelta(2)))
    handlers["LineShipped"](row, event("LineShipped", 4, ship_by - timedelta(seconds=1)))
    raised = row["_raised"]
    assert [(x["kind"], x["due_at"], x["order_no"]) for x in raised] == [
        ("late_allocation", allocate_by, "SO-1")
    ]
    assert (row["late_allocation"], row["late_shipment"]) == (True, False)
    handlers["LineShipped"](row, event("LineShipped", 5, ship_by + timedelta(seconds=1)))
    assert [x["kind"] for x in row["_raised"]] == ["late_allocation", "late_shipment"]
    assert row["late_shipment"] is True


def _order_records(events: list[object]) -> list[eventlog.EventRecord]:
    log = eventlog.EventLog(SingleObjectCodec())
    return [log.record(eventlog.Record(log.encode(e)[1])) for e in events]  # type: ignore[arg-type]


def _comparable(row: rows.Row) -> dict[str, object]:
    # What a reader sees, minus what must differ between two logs of one order: the
    # version and the wall-clock times of events (which times are set is compared).
    def value(k: str, v: object) -> object:
        if isinstance(v, dict):
            return {kk: value(str(kk), vv) for kk, vv in v.items()}
        if isinstance(v, datetime) and k not in ("placed_at",) and not k.startswith("promised"):
            return "set"
        if k in ("_raised",) and isinstance(v, list):
            return sorted(x["kind"] for x in v)
        return v

    return {k: value(k, v) for k, v in row.items() if k not in ("version", "updated_at")}


@pytest.mark.parametrize("consumer", [tracking, analytics, exceptions], ids=lambda c: c.__name__)
def test_an_order_logged_by_the_previous_version_projects_to_the_same_rows(
    consumer: object,
) -> None:
    # The previous version's log (PaymentRecorded, LineReserved x2, OrderConfirmed,
    # OrderAllocated, LineShipped x2, an empty OrderShipped) and today's (OrderPlaced
    # with the payment, LinesReserved, OrderAllocated confirming with line 2's
    # reservation, LinesShipped, OrderShipped with line 2) of the same order.
    old = _order_records(legacy_order_events("T-ROWS"))
    o = todays_order("T-ROWS")
    new = _order_records(o.collect_events())
    assert len(new) < len(old)
    handlers = consumer.HANDLERS if hasattr(consumer, "HANDLERS") else consumer.ORDER_HANDLERS  # type: ignore[attr-defined]
    from_old = rows.fold(old, {}, handlers, {"OrderPlaced"})[o.id]
    from_new = rows.fold(new, {}, handlers, {"OrderPlaced"})[o.id]
    assert _comparable(from_new) == _comparable(from_old)


def test_shipment_scans_fold_into_the_row_and_one_scan_row_each() -> None:
    s = shipment(uuid.uuid4(), uuid.uuid4())
    s.pick()
    s.pack()
    s.ship("SF", "SF100")
    t0 = datetime(2026, 11, 29, 1, tzinfo=UTC)
    s.record_scan("in_transit", t0, location="深圳", eta=t0 + timedelta(days=1))
    s.record_scan("delivery_failed", t0 + timedelta(hours=20), location="上海", reason="不在")
    s.record_scan("out_for_delivery", t0 + timedelta(hours=22), location="上海")
    s.record_scan("delivered", t0 + timedelta(hours=23), location="上海", signer="李雷")
    events = records(s)
    changed = rows.fold(events + events, {}, tracking.SHIPMENT_HANDLERS, {"ShipmentCreated"})
    row = changed[s.id]
    assert (row["status"], row["signer"], row["failed_attempts"]) == ("delivered", "李雷", 1)
    assert row["delivered_at"] == t0 + timedelta(hours=23)
    assert (row["last_scan_status"], row["last_scan_location"]) == ("delivered", "上海")
    assert row["eta"] == t0 + timedelta(days=1)
    scans = row["_scans"]
    assert [x["status"] for x in scans] == [
        "in_transit",
        "delivery_failed",
        "out_for_delivery",
        "delivered",
    ]  # once each, though every event came twice
    assert scans[1]["reason"] == "不在"


def test_a_delivery_after_the_promise_is_a_late_delivery_exception() -> None:
    placed = datetime(2026, 11, 20, tzinfo=UTC)
    _, _, deliver_by = deadlines(placed, "standard")
    row: rows.Row = {"order_id": 1, "order_no": "SO-1", "deliver_by": deliver_by}
    late = eventlog.EventRecord(
        "order",
        "OrderDelivered",
        uuid.uuid4(),
        9,
        deliver_by + timedelta(days=3),
        {"delivered_at": deliver_by + timedelta(hours=1), "shipment_id": None},
    )
    exceptions.order_delivered(row, late)
    exceptions.order_delivered(row, late)
    (raised,) = row["_raised"]
    assert (raised["kind"], raised["due_at"]) == ("late_delivery", deliver_by)
    assert raised["occurred_at"] == deliver_by + timedelta(hours=1)  # the carrier's time


def test_cod_someone_must_look_at_becomes_an_exception_naming_the_order() -> None:
    at = datetime(2026, 12, 1, 15, tzinfo=UTC)
    pid, oid = uuid.uuid4(), str(uuid.uuid4())

    def cash(amount: int) -> dict[str, object]:
        return {"amount": amount, "currency": "CNY"}

    def event(name: str, version: int, **payload: object) -> eventlog.EventRecord:
        return eventlog.EventRecord(
            "payment", name, pid, version, at, {"order_id": oid, "order_no": "SO-9", **payload}
        )

    exact = event("CodCollected", 2, amount=cash(1000), expected=cash(1000), tracking_no="SF1")
    short = event("CodCollected", 3, amount=cash(900), expected=cash(1000), tracking_no="SF2")
    older = event("CodCollected", 4, amount=cash(900), tracking_no="")  # no expected recorded
    over = event(
        "CodRemitted",
        5,
        tracking_no="SF2",
        batch="SF-1",
        amount=cash(1200),
        fee=cash(10),
        remitted_on="2026-12-03",
        outcome="over_paid",
    )
    matched = event(
        "CodRemitted",
        6,
        tracking_no="SF1",
        batch="SF-1",
        amount=cash(1000),
        fee=cash(10),
        remitted_on="2026-12-03",
        outcome="matched",
    )
    missing = event("CodRemittanceMissing", 7, tracking_no="SF3", batch="SF-1")
    found = [exceptions.cod_exception(e) for e in (exact, short, older, over, matched, missing)]
    assert [(f["kind"], f["order_no"], f["reason"]) if f else None for f in found] == [
        None,
        ("cod_collected_short", "SO-9", "SF2"),
        None,
        ("cod_over_paid", "SO-9", "SF2"),
        None,
        ("cod_missing", "SO-9", "SF3"),
    ]


def test_cod_outstanding_follows_a_cod_order_from_asked_to_remitted_or_voided() -> None:
    at = datetime(2026, 12, 1, 15, tzinfo=UTC)

    def event(pid: uuid.UUID, name: str, version: int, **payload: object) -> eventlog.EventRecord:
        return eventlog.EventRecord("payment", name, pid, version, at, payload)

    money = {"amount": 1000, "currency": "CNY"}
    paid, cancelled, prepaid = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    opened = {"order_id": str(uuid.uuid4()), "order_no": "SO-1", "channel": "web"}
    events = [
        event(paid, "PaymentRequested", 1, **opened, reference="T-1", method="cod", amount=money),
        event(
            paid,
            "CodCollected",
            2,
            amount={**money, "amount": 1100},
            expected=money,
            carrier="SF",
            tracking_no="SF1",
            collected_at=at,
            reference="T-1",
        ),
        event(
            paid,
            "CodRemitted",
            3,
            tracking_no="SF1",
            batch="SF-1",
            amount={**money, "amount": 1100},
            fee={**money, "amount": 11},
            remitted_on="2026-12-03",
            outcome="matched",
        ),
        event(
            cancelled, "PaymentRequested", 1, **opened, reference="T-2", method="cod", amount=money
        ),
        event(cancelled, "PaymentVoided", 2, reference="T-2", reason="cancelled"),
        event(
            prepaid, "PaymentRequested", 1, **opened, reference="T-3", method="alipay", amount=money
        ),
    ]
    changed = rows.fold(events, {}, cod.HANDLERS, creators={"PaymentRequested"})
    written = {k: cod.table_rows(r) for k, r in changed.items() if r["_cod"]}
    assert {k: [(r["part"], r["status"]) for r in found] for k, found in written.items()} == {
        paid: [("SF1", "remitted")],
        cancelled: [("", "voided")],
    }
    [row] = written[paid]
    assert (row["collection_variance"], row["fee"], row["order_no"]) == (100, 11, "SO-1")
    assert not changed[prepaid]["_cod"]  # no COD tender: no row written


def test_cod_outstanding_has_a_row_per_parcel_of_a_split_cod_order() -> None:
    at = datetime(2026, 12, 1, 15, tzinfo=UTC)
    pid = uuid.uuid4()

    def event(name: str, version: int, **payload: object) -> eventlog.EventRecord:
        return eventlog.EventRecord("payment", name, pid, version, at, payload)

    def collected(version: int, waybill: str, amount: int, expected: int, settles: bool) -> Any:
        return event(
            "CodCollected",
            version,
            amount={"amount": amount, "currency": "CNY"},
            expected={"amount": expected, "currency": "CNY"},
            carrier="SF",
            tracking_no=waybill,
            collected_at=at,
            reference="T-1",
            settles=settles,
        )

    opened = {"order_id": str(uuid.uuid4()), "order_no": "SO-2", "channel": "web"}
    money = {"amount": 3000, "currency": "CNY"}
    first = [
        event("PaymentRequested", 1, **opened, reference="T-1", method="cod", amount=money),
        collected(2, "SF1", 1900, 2000, settles=False),
    ]
    state = rows.fold(first, {}, cod.HANDLERS, creators={"PaymentRequested"})
    # The first parcel, short by 100; the rest still asked for.
    assert [(r["part"], r["status"], r["expected_amount"]) for r in cod.table_rows(state[pid])] == [
        ("SF1", "collected", 2000),
        ("", "awaiting_delivery", 1100),
    ]
    assert cod.table_rows(state[pid])[0]["collection_variance"] == -100
    second = [collected(3, "SF2", 1100, 1100, settles=True)]
    rows.fold(second, state, cod.HANDLERS, creators={"PaymentRequested"})
    assert [(r["part"], r["collected_amount"]) for r in cod.table_rows(state[pid])] == [
        ("SF1", 1900),
        ("SF2", 1100),
    ]


def test_a_cod_tender_collected_in_parts_is_captured_once_the_last_part_settles_it() -> None:
    at = datetime(2026, 12, 1, 15, tzinfo=UTC)
    pid = uuid.uuid4()

    def event(name: str, version: int, **payload: object) -> eventlog.EventRecord:
        return eventlog.EventRecord("payment", name, pid, version, at, payload)

    def part(version: int, waybill: str, amount: int, settles: bool) -> eventlog.EventRecord:
        money = {"amount": amount, "currency": "CNY"}
        return event(
            "CodCollected",
            version,
            amount=money,
            tracking_no=waybill,
            reference="T-1",
            settles=settles,
        )

    opened = {"order_id": str(uuid.uuid4()), "order_no": "SO-3", "channel": "web"}
    money = {"amount": 3000, "currency": "CNY"}
    first = [
        event("PaymentRequested", 1, **opened, reference="T-1", method="cod", amount=money),
        part(2, "SF1", 2000, settles=False),
    ]
    state = rows.fold(first, {}, payments.HANDLERS, creators={"PaymentRequested"})
    assert state[pid]["tenders"]["T-1"]["status"] == "collected in part"
    rows.fold([part(3, "SF2", 1000, settles=True)], state, payments.HANDLERS, creators=())
    assert state[pid]["tenders"]["T-1"]["status"] == "captured"
    assert [(x["provider_reference"], x["amount"]) for x in state[pid]["_ledger"]] == [
        ("SF1", 2000),
        ("SF2", 1000),
    ]
