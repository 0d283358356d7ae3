"""The shipment service on carrier updates, without Kafka: scans applied once, the
delivery told to the order with the cash collected, a wrong waybill refused."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from oms_events import deadletter
from oms_events.domain import Shipment
from oms_events.engine.commands import (
    CodAmount,
    CreateShipment,
    DeliverShipment,
    RecordCarrierUpdate,
    RecordWarehouseUpdate,
    ShipmentLineDetails,
)
from oms_events.engine.handling import Outcome
from oms_events.engine.shipment_service import ShipmentService
from tests.unit.engine.flow import Flow

ORDER = uuid.UUID(int=5)
SHIPMENT = Shipment.create_id(ORDER, "SH")
T0 = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


def shipped() -> Flow:
    flow = Flow(service=ShipmentService())
    flow.send(
        CreateShipment(
            command_id="create",
            shipment_id=SHIPMENT,
            order_id=ORDER,
            location="SH",
            lines=(ShipmentLineDetails(line_no=1, sku="TEA", quantity=1, reservation_id=ORDER),),
        )
    )
    for status in ("picked", "packed", "shipped"):
        flow.send(
            RecordWarehouseUpdate(
                command_id=status,
                shipment_id=SHIPMENT,
                status=status,  # type: ignore[arg-type]
                carrier="顺丰" if status == "shipped" else None,
                tracking_no="SF100" if status == "shipped" else None,
            )
        )
    return flow


def scan(status: str, minutes: int, **extra: object) -> RecordCarrierUpdate:
    return RecordCarrierUpdate(
        command_id=f"scan/{status}/{minutes}",
        shipment_id=SHIPMENT,
        carrier="SF",
        tracking_no="SF100",
        status=status,  # type: ignore[arg-type]
        occurred_at=T0 + timedelta(minutes=minutes),
        **extra,  # type: ignore[arg-type]
    )


def shipment_events(flow: Flow, command: RecordCarrierUpdate) -> list[str]:
    result = flow.send(command)
    return [w.short for w in result.written if w.topic.endswith("oms.shipment.events")]


def test_scans_become_events_and_the_delivery_goes_to_the_order_with_the_cash() -> None:
    flow = shipped()
    assert shipment_events(flow, scan("in_transit", 0, location="深圳")) == ["ShipmentInTransit"]
    assert shipment_events(flow, scan("out_for_delivery", 60)) == ["ShipmentOutForDelivery"]
    cash = CodAmount(amount=12900, currency="CNY")
    result = flow.send(scan("delivered", 90, signer="李雷", cod_collected=cash))
    (told,) = result.commands(DeliverShipment)
    assert (told.order_id, told.shipment_id, told.delivered_at) == (
        ORDER,
        SHIPMENT,
        T0 + timedelta(minutes=90),
    )
    assert told.cod_collected is not None and told.cod_collected.amount == 12900


def test_the_same_delivered_scan_pushed_again_tells_the_order_nothing() -> None:
    flow = shipped()
    flow.send(scan("delivered", 90))
    again = replace(scan("delivered", 90), command_id="replayed")
    result = flow.send(again)
    assert result.commands(DeliverShipment) == []
    assert shipment_events(flow, scan("in_transit", 120)) == []  # the journey is over


def test_a_scan_of_another_waybill_is_dead_lettered() -> None:
    flow = shipped()
    wrong = replace(scan("in_transit", 0), tracking_no="SF999")
    result = flow.send(wrong)
    assert result.outcome is Outcome.DEAD
    (letter,) = result.dead
    assert deadletter.read(list(letter.headers.items())).reason.code == "command.invalid"
