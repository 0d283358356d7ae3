"""A shipment withdrawn for a re-route, without Kafka: cancelled and its warehouse told
before pick only; the order is answered either way."""

from __future__ import annotations

import uuid

import pytest

from oms_events.domain import Shipment
from oms_events.engine.commands import (
    CreateShipment,
    RecordShipmentWithdrawn,
    RecordWarehouseUpdate,
    ShipmentLineDetails,
    WithdrawShipment,
)
from oms_events.engine.shipment_service import ShipmentService
from tests.unit.engine.flow import Flow, Result

ORDER = uuid.UUID(int=7)
SHIPMENT = Shipment.create_id(ORDER, "SH")


def created(*statuses: str) -> Flow:
    flow = Flow(service=ShipmentService())
    line = ShipmentLineDetails(line_no=1, sku="TEA", quantity=1, reservation_id=ORDER)
    flow.send(
        CreateShipment(
            command_id="create", shipment_id=SHIPMENT, order_id=ORDER, location="SH", lines=(line,)
        )
    )
    for status in statuses:
        flow.send(
            RecordWarehouseUpdate(command_id=status, shipment_id=SHIPMENT, status=status)  # type: ignore[arg-type]
        )
    return flow


def withdraw(flow: Flow, command_id: str = "w") -> Result:
    return flow.send(
        WithdrawShipment(
            command_id=command_id, shipment_id=SHIPMENT, order_id=ORDER, reason="re-routed to BJ"
        )
    )


def test_before_pick_it_is_cancelled_the_warehouse_told_and_the_order_answered() -> None:
    flow = created()
    done = withdraw(flow)
    assert [w.short for w in done.written if w.topic.endswith("shipment.events")] == [
        "ShipmentCancelled"
    ]
    [told] = done.named("AllocationCancelled")
    assert (told["location"], told["reason"]) == ("SH", "re-routed to BJ")
    [answer] = done.commands(RecordShipmentWithdrawn)
    assert answer.withdrawn and answer.order_id == ORDER
    # Asked again (a retried command): the same answer, nothing cancelled twice.
    [again] = withdraw(flow, "w2").commands(RecordShipmentWithdrawn)
    assert again.withdrawn


@pytest.mark.parametrize("statuses", [("picked",), ("picked", "packed")])
def test_once_picked_it_is_refused_and_the_order_told_why(statuses: tuple[str, ...]) -> None:
    done = withdraw(created(*statuses))
    assert not done.named("AllocationCancelled")
    [answer] = done.commands(RecordShipmentWithdrawn)
    assert not answer.withdrawn and statuses[-1] in answer.reason
