"""Projection "warehouse" folded without PostgreSQL: the address a label prints and each
shipment's lines, waybill, wave and status, from the aggregates' own events."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

from consumers import warehouse

from oms_events import eventlog
from oms_events.avro.codec import SingleObjectCodec
from oms_events.documents import store
from oms_events.projection import rows
from tests.unit.domain.samples import address, order, shipment

LOG = eventlog.EventLog(SingleObjectCodec())
# The order and address columns the parcels query joins to a shipment row.
LABEL_ROW = {
    "order_no": "SO-1",
    "customer_name": "张三",
    "phone": "13800138000",
    "delivery_speed": "standard",
    "currency": "CNY",
    "country": "CN",
    "province": "北京市",
    "city": "北京市",
    "district": "朝阳区",
    "line1": "酒仙桥路 6 号",
    "postcode": None,
}


def records(aggregate: Any) -> list[eventlog.EventRecord]:
    """The aggregate's pending events as the projection reads them (Avro round trip)."""
    return [LOG.record(eventlog.Record(LOG.encode(e)[1])) for e in aggregate.collect_events()]


def test_the_address_is_the_last_one_the_order_was_given() -> None:
    o = order()
    placed = records(o)
    o.change_address(replace(address(), line1="酒仙桥路 6 号", district="朝阳区"))
    changed = records(o)
    state: dict[Any, rows.Row] = {}
    rows.fold(placed + changed + placed, state, warehouse.ORDER_HANDLERS, {"OrderPlaced"})
    row = state[o.id]
    assert (row["province"], row["city"], row["line1"]) == ("北京市", "北京市", "酒仙桥路 6 号")
    assert row["version"] == o.version


def test_a_shipment_s_waybill_wave_and_status_follow_its_events() -> None:
    s = shipment(UUID(int=7), UUID(int=8))
    created = records(s)
    s.assign_waybill("ZTO", "751000000001", "W-WH-SH-1")
    s.pick()
    s.pack()
    later = records(s)
    state: dict[Any, rows.Row] = {}
    rows.fold(created + later + later, state, warehouse.SHIPMENT_HANDLERS, {"ShipmentCreated"})
    row = state[s.id]
    assert row["lines"] == [
        {"line_no": ln.line_no, "sku": ln.sku, "quantity": ln.quantity} for ln in s.lines
    ]
    assert (row["carrier"], row["tracking_no"], row["wave"]) == ("ZTO", "751000000001", "W-WH-SH-1")
    assert row["status"] == "packed" and row["waybill_at"] is not None
    s.ship("ZTO", "751000000001")
    rows.fold(records(s), state, warehouse.SHIPMENT_HANDLERS, {"ShipmentCreated"})
    assert row["status"] == "shipped"


def test_a_split_parcel_s_price_is_kept_for_its_cod_label() -> None:
    """A shipment of an order split over parcels carries its own price (what the courier
    collects); the label reads it instead of the order's whole balance."""
    s = shipment(UUID(int=7), UUID(int=8), parcel_price=1290)
    state: dict[Any, rows.Row] = {}
    rows.fold(records(s), state, warehouse.SHIPMENT_HANDLERS, {"ShipmentCreated"})
    row = state[s.id]
    assert row["parcel_price"] == 1290
    # Columns the events did not set are NULL in the table.
    owed = {
        **dict.fromkeys(warehouse.SHIPMENT),
        **row,
        **LABEL_ROW,
        "order_total": 5000,
        "amount_paid": 0,
        "payment_method": "cod",
    }
    assert store.parcel_of(owed).cod_amount == 1290
    assert store.parcel_of({**owed, "parcel_price": None}).cod_amount == 5000  # one parcel
