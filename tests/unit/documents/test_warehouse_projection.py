"""Projection "warehouse" folded without PostgreSQL: the address a label prints and each
shipment's lines, waybill, wave and status, from the aggregates' own events."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

from consumers import warehouse

from oms_events import eventlog
from oms_events.avro.codec import SingleObjectCodec
from oms_events.projection import rows
from tests.unit.domain.samples import address, order, shipment

LOG = eventlog.EventLog(SingleObjectCodec())


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
