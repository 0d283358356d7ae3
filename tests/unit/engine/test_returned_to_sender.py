"""A parcel returned to sender that we did not intercept (拒收 refused, undeliverable),
service by service without Kafka: the shipment tells the order twice (returned, then
back at the warehouse and restocked); the order ends and the payment hears of the money."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

from oms_events import topics
from oms_events.domain.order import OrderStatus
from oms_events.engine.commands import (
    CancelOrder,
    CreateShipment,
    DeliverShipment,
    RecordInterception,
    RecordParcelReturned,
    RecordShipmentReturned,
    RequestRefund,
    ShipLines,
    VoidPayment,
)
from oms_events.engine.warehouse_adapter import PARCEL_RETURNED, WarehouseAdapter
from tests.unit.engine.flow import CODEC, SETTINGS, Flow, order_id, place
from tests.unit.engine.test_interception import ORDER, SHIPMENT, Shipments, names

BACK_AT = datetime(2025, 11, 30, 9, 0, tzinfo=UTC)  # a return window ago


def test_a_refused_parcel_tells_the_order_when_returned_and_again_once_back() -> None:
    shipments = Shipments()
    for status in ("picked", "packed", "shipped"):
        shipments.warehouse(status)
    written = shipments.carrier("returned_to_sender")
    assert names(written) == ["RecordShipmentReturned", "ShipmentReturned"]
    [(_, told, key)] = [w for w in written if w[0].endswith("RecordShipmentReturned")]
    assert key == str(ORDER).encode()
    assert (told["shipment_id"], told["received_back"]) == (str(SHIPMENT), False)
    assert told["reason"] == "said the carrier"
    back = shipments.send(
        RecordParcelReturned(command_id="back-1", shipment_id=SHIPMENT, received_at=BACK_AT)
    )
    assert names(back) == ["RestockLines", "RecordShipmentReturned", "ParcelReceivedBack"]
    [(_, told, _)] = [w for w in back if w[0].endswith("RecordShipmentReturned")]
    assert told["received_back"] is True and told["occurred_at"] == BACK_AT
    # The warehouse scans it twice: restocked once, the order told once.
    assert (
        names(shipments.send(RecordParcelReturned(command_id="back-2", shipment_id=SHIPMENT))) == []
    )


def test_a_parcel_back_at_the_warehouse_before_the_carriers_return_scan_is_returned() -> None:
    # The carrier's feed lags (a stalled adapter, a killed engine): the warehouse holds
    # the parcel first. It was returned, so it is restocked and the order told both
    # things at once; the carrier's late push then changes nothing.
    shipments = Shipments()
    for status in ("picked", "packed", "shipped"):
        shipments.warehouse(status)
    shipments.carrier("in_transit")
    back = shipments.send(
        RecordParcelReturned(command_id="early", shipment_id=SHIPMENT, received_at=BACK_AT)
    )
    assert "RestockLines" in names(back) and "ParcelReceivedBack" in names(back)
    told = [w[1] for w in back if w[0].endswith("RecordShipmentReturned")]
    assert [t["received_back"] for t in told] == [False, True]
    assert names(shipments.carrier("returned_to_sender")) == []


def shipped(method: str, skus: list[str]) -> tuple[Flow, uuid.UUID, dict[str, uuid.UUID]]:
    """An order of one unit of each of ``skus``, each at its own location, shipped."""
    flow = Flow({(sku, f"L{n}"): 5 for n, sku in enumerate(skus)})
    placed = place("RTS1", [(sku, 1) for sku in skus], paid=method != "cod", method=method)
    oid = order_id(placed)
    asks = flow.send(placed).asks()
    creates = flow.answer(*asks).commands(CreateShipment)
    parcels: dict[str, uuid.UUID] = {}
    for create in creates:
        flow.send(
            ShipLines(
                command_id=f"ship-{create.location}",
                order_id=oid,
                shipment_id=create.shipment_id,
                line_nos=tuple(line.line_no for line in create.lines),
            )
        )
        parcels[create.lines[0].sku] = create.shipment_id
    return flow, oid, parcels


def returned(oid: uuid.UUID, shipment_id: uuid.UUID, back: bool) -> RecordShipmentReturned:
    return RecordShipmentReturned(
        command_id=f"{shipment_id}/{back}",
        order_id=oid,
        shipment_id=shipment_id,
        occurred_at=BACK_AT,
        reason="拒收",
        received_back=back,
    )


def delivered(oid: uuid.UUID, shipment_id: uuid.UUID, command_id: str) -> DeliverShipment:
    return DeliverShipment(
        command_id=command_id,
        order_id=oid,
        shipment_id=shipment_id,
        delivered_at=BACK_AT,
        carrier="SF",
        tracking_no="SF1",
    )


def test_a_prepaid_order_refused_ends_returned_to_sender_and_is_refunded_in_full() -> None:
    flow, oid, parcels = shipped("alipay", ["TEA"])
    assert flow.send(returned(oid, parcels["TEA"], False)).events == ["ShipmentReturnedToSender"]
    result = flow.send(returned(oid, parcels["TEA"], True))
    assert result.events == ["ReturnedParcelReceived", "OrderReturnedToSender", "RefundDue"]
    assert flow.order(oid).status is OrderStatus.RETURNED_TO_SENDER
    (refund,) = result.commands(RequestRefund)
    assert refund.amount == flow.order(oid).total.amount
    # Told again (a redelivered command under another id): nothing more.
    again = flow.send(
        RecordShipmentReturned(
            **{**returned(oid, parcels["TEA"], True).__dict__, "command_id": "x"}
        )
    )
    assert again.events == [] and again.commands(RequestRefund) == []


def test_a_cod_order_refused_closes_and_voids_its_cod_tender() -> None:
    flow, oid, parcels = shipped("cod", ["TEA"])
    result = flow.send(returned(oid, parcels["TEA"], True))
    assert "OrderReturnedToSender" in result.events
    assert result.commands(RequestRefund) == []  # no cash was collected
    (void,) = result.commands(VoidPayment)
    assert void.order_id == oid and void.reason == "拒收"


def test_one_parcel_delivered_one_refused_refunds_its_lines_then_completes() -> None:
    flow, oid, parcels = shipped("alipay", ["TEA", "COFFEE"])
    flow.send(delivered(oid, parcels["TEA"], "scan-80"))
    flow.send(returned(oid, parcels["COFFEE"], False))
    result = flow.send(returned(oid, parcels["COFFEE"], True))
    assert result.events == ["ReturnedParcelReceived", "RefundAgreed", "OrderDelivered"]
    (refund,) = result.commands(RequestRefund)
    assert refund.amount == 1000  # the refused line's ¥10.00, not the delivered one
    assert result.commands(VoidPayment) == []
    order = flow.order(oid)
    assert order.status is OrderStatus.DELIVERED and order.completable
    # The completion timer has it (its window is counted from BACK_AT, long past).
    ticked = flow.tick()
    assert ticked is not None and ticked.events == ["OrderCompleted"]


def test_the_warehouse_adapter_passes_on_when_the_parcel_came_back() -> None:
    topic = topics.name(SETTINGS, topics.WAREHOUSE_UPDATES)
    value = CODEC.encode(
        PARCEL_RETURNED,
        {
            "update_id": f"{SHIPMENT}/returned",
            "shipment_id": str(SHIPMENT),
            "location": "SH",
            "tracking_no": "SF100",
            "at": BACK_AT,
        },
        topic=topic,
    )
    command = WarehouseAdapter().decode(CODEC, SimpleNamespace(value=value))
    assert command == RecordParcelReturned(
        command_id=f"{SHIPMENT}/returned", shipment_id=SHIPMENT, received_at=BACK_AT
    )


def test_one_parcel_intercepted_one_delivered_first_ends_delivered_once_the_other_is_back() -> None:
    # Cancelled after shipping: the carrier intercepted one parcel but delivered the other
    # first, so the cancellation is refused. Once the intercepted parcel is back at the
    # warehouse the order settles like a refused one (a CI run left it shipped for ever).
    flow, oid, parcels = shipped("alipay", ["TEA", "COFFEE"])
    flow.send(CancelOrder(command_id="cancel", order_id=oid, reason="顾客取消"))
    flow.send(
        RecordInterception(
            command_id="i-coffee",
            order_id=oid,
            shipment_id=parcels["COFFEE"],
            outcome="intercepted",
        )
    )
    flow.send(
        RecordInterception(
            command_id="i-tea", order_id=oid, shipment_id=parcels["TEA"], outcome="delivered"
        )
    )
    flow.send(delivered(oid, parcels["TEA"], "scan-tea"))
    assert flow.order(oid).status is OrderStatus.SHIPPED  # the coffee is on its way back
    result = flow.send(returned(oid, parcels["COFFEE"], True))
    assert result.events == [
        "ShipmentReturnedToSender",
        "ReturnedParcelReceived",
        "RefundAgreed",
        "OrderDelivered",
    ]
    (refund,) = result.commands(RequestRefund)
    assert refund.amount == 1000  # the intercepted line's ¥10.00
    assert flow.order(oid).completable
