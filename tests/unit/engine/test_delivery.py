"""Delivery reaches the order: every shipment delivered -> OrderDelivered with its time;
cash collected at the door -> CollectCod to the payment, once."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

from oms_events.domain.order import OrderStatus
from oms_events.engine.commands import (
    CollectCod,
    CollectedCash,
    CreateShipment,
    DeliverShipment,
    ShipLines,
)
from tests.unit.engine.flow import Flow, order_id, place

DELIVERED_AT = datetime(2026, 11, 29, 7, 52, 8, tzinfo=UTC)


def shipped_cod_order() -> tuple[Flow, uuid.UUID, uuid.UUID]:
    flow = Flow({("TEA", "SH"): 5})
    placed = place("COD1", [("TEA", 1)], paid=False, method="cod")
    (ask,) = flow.send(placed).asks()
    (create,) = flow.answer(ask).commands(CreateShipment)
    oid = order_id(placed)
    flow.send(
        ShipLines(command_id="ship", order_id=oid, shipment_id=create.shipment_id, line_nos=(1,))
    )
    return flow, oid, create.shipment_id


def deliver(oid: uuid.UUID, shipment_id: uuid.UUID, cash: int | None) -> DeliverShipment:
    return DeliverShipment(
        command_id="scan-80",
        order_id=oid,
        shipment_id=shipment_id,
        delivered_at=DELIVERED_AT,
        carrier="SF",
        tracking_no="SF1400012345678",
        cod_collected=CollectedCash(amount=cash, currency="CNY") if cash is not None else None,
    )


def test_the_last_shipment_delivered_delivers_the_order_and_collects_the_cash() -> None:
    flow, oid, shipment_id = shipped_cod_order()
    total = flow.order(oid).total.amount
    result = flow.send(deliver(oid, shipment_id, total))
    assert result.events == ["OrderDelivered"]
    assert flow.order(oid).status is OrderStatus.DELIVERED
    assert flow.order(oid).delivered_at == DELIVERED_AT
    (cod,) = result.commands(CollectCod)
    assert (cod.order_no, cod.channel, cod.currency, cod.amount) == ("SO-COD1", "web", "CNY", total)
    assert (cod.tracking_no, cod.collected_at) == ("SF1400012345678", DELIVERED_AT)


def test_a_delivery_told_twice_collects_nothing_the_second_time() -> None:
    flow, oid, shipment_id = shipped_cod_order()
    flow.send(deliver(oid, shipment_id, 100))
    result = flow.send(replace(deliver(oid, shipment_id, 100), command_id="scan-80-again"))
    assert result.events == [] and result.commands(CollectCod) == []


def test_each_parcel_of_a_split_cod_order_collects_its_own_lines_price() -> None:
    flow = Flow({("TEA", "SH"): 5, ("MUG", "BJ"): 5})
    placed = place("COD2", [("TEA", 1), ("MUG", 2)], paid=False, method="cod")
    oid = order_id(placed)
    creates = [
        c for ask in flow.send(placed).asks() for c in flow.answer(ask).commands(CreateShipment)
    ]
    by_line = {c.lines[0].line_no: c.shipment_id for c in creates}
    assert sorted(by_line) == [1, 2]  # two parcels, one per location
    # Each shipment is opened with what its courier will collect (its label prints it),
    # and the parcels' prices add up to the order's total.
    prices = {c.lines[0].line_no: c.parcel_price for c in creates}
    assert prices == {1: 1000, 2: 2000}
    assert sum(prices.values()) == flow.order(oid).total.amount
    for n, shipment_id in by_line.items():
        flow.send(
            ShipLines(command_id=f"ship{n}", order_id=oid, shipment_id=shipment_id, line_nos=(n,))
        )
    first = flow.send(replace(deliver(oid, by_line[2], 2000), tracking_no="SF2"))
    last = flow.send(
        replace(deliver(oid, by_line[1], 1000), command_id="scan-81", tracking_no="SF1")
    )
    # Each parcel is judged against its own lines' price (the shipping fee, none here,
    # on the parcel of line 1).
    assert [(c.tracking_no, c.amount, c.expected) for c in first.commands(CollectCod)] == [
        ("SF2", 2000, 2000)
    ]
    assert [(c.tracking_no, c.amount, c.expected) for c in last.commands(CollectCod)] == [
        ("SF1", 1000, 1000)
    ]
    assert flow.order(oid).status is OrderStatus.DELIVERED


def test_a_single_parcel_expects_everything_still_asked_for() -> None:
    flow, oid, shipment_id = shipped_cod_order()
    assert flow.order(oid).lines_price([1]) is None  # the whole order: no parcel price
    (cod,) = flow.send(deliver(oid, shipment_id, 900)).commands(CollectCod)
    assert cod.expected is None
