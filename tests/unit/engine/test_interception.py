"""The shipment processor when an order is cancelled, without Kafka: the warehouse told,
the carrier asked to intercept, the carrier's answer passed to the order, the returned
parcel restocked."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from oms_events.domain.shipment import Shipment
from oms_events.engine import commands
from oms_events.engine.commands import (
    CancelShipment,
    CreateShipment,
    RecordCarrierUpdate,
    RecordParcelReturned,
    RecordWarehouseUpdate,
    ShipmentLineDetails,
)
from oms_events.engine.handling import Outcome, Step
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.records import CommandWriter
from oms_events.engine.shipment_service import ShipmentService
from tests.unit.engine.flow import CODEC, SETTINGS

ORDER = uuid.uuid4()
SHIPMENT = Shipment.create_id(ORDER, "SH")


class Shipments:
    """The shipment service's partitions; every call is one transaction."""

    def __init__(self, drop_ship: bool = False) -> None:
        self.step = Step(ShipmentService(), SETTINGS, CODEC)
        self.writer = CommandWriter(SETTINGS, CODEC)
        self.partitions: dict[int, Partition] = {}
        self.send(
            CreateShipment(
                command_id="create",
                shipment_id=SHIPMENT,
                order_id=ORDER,
                location="SH",
                lines=(
                    ShipmentLineDetails(line_no=1, sku="TEA", quantity=2, reservation_id=ORDER),
                ),
                drop_ship=drop_ship,
            )
        )

    def send(self, command: commands.Command) -> list[tuple[str, Any, bytes | None]]:
        """(schema name, record, key) of everything the transaction writes."""
        out = Outbox(SETTINGS, CODEC)
        r = self.writer.record(command)
        assert r.partition is not None
        partition = self.partitions.setdefault(r.partition, Partition(r.partition))
        record = SimpleNamespace(
            topic=r.topic,
            key=r.key,
            value=r.value,
            headers=r.headers,
            partition=r.partition,
            offset=0,
        )
        assert self.step(record, partition, out) is Outcome.APPLIED
        return [(*CODEC.decode(o.value), o.key) for o in out.records]

    def warehouse(self, status: str, n: int = 0) -> list[tuple[str, Any, bytes | None]]:
        return self.send(
            RecordWarehouseUpdate(
                command_id=f"{status}-{n}",
                shipment_id=SHIPMENT,
                status=status,  # type: ignore[arg-type]
                carrier="SF" if status == "shipped" else None,
                tracking_no="SF100" if status == "shipped" else None,
            )
        )

    def cancel(self, n: int = 0) -> list[tuple[str, Any, bytes | None]]:
        return self.send(
            CancelShipment(command_id=f"cancel-{n}", shipment_id=SHIPMENT, reason="fraud")
        )

    def carrier(self, status: str) -> list[tuple[str, Any, bytes | None]]:
        return self.send(
            RecordCarrierUpdate(
                command_id=f"carrier-{status}",
                shipment_id=SHIPMENT,
                carrier="SF",
                tracking_no="SF100",
                status=status,  # type: ignore[arg-type]
                occurred_at=datetime.now(UTC),
                reason="said the carrier",
            )
        )


def names(written: list[tuple[str, Any, bytes | None]]) -> list[str]:
    return [name.rsplit(".", 1)[-1] for name, _, _ in written]


def test_a_shipment_still_in_the_warehouse_is_cancelled_and_the_warehouse_told() -> None:
    shipments = Shipments()
    shipments.warehouse("picked")
    written = shipments.cancel()
    assert names(written) == ["AllocationCancelled", "ShipmentCancelled"]
    [(_, told, key)] = [w for w in written if w[0] == "oms.allocation.AllocationCancelled"]
    assert key == b"SH" and told["shipment_id"] == str(SHIPMENT) and told["reason"] == "fraud"


def test_a_drop_ship_supplier_is_told_on_the_topic_its_purchase_order_came_by() -> None:
    """A supplier (代发) reads oms.dropship, not a warehouse's oms.allocations: the
    cancellation of its purchase order must reach it there."""
    shipments = Shipments(drop_ship=True)
    written = shipments.cancel()
    assert names(written) == ["PurchaseOrderCancelled", "ShipmentCancelled"]
    [(_, told, key)] = [w for w in written if w[0] == "oms.dropship.PurchaseOrderCancelled"]
    assert key == b"SH" and told["purchase_order_id"] == str(SHIPMENT)
    assert (told["supplier"], told["reason"]) == ("SH", "fraud")


def test_shipped_after_the_cancellation_takes_the_stock_and_asks_for_an_interception() -> None:
    shipments = Shipments()
    shipments.cancel()
    written = shipments.warehouse("shipped")
    assert sorted(names(written)) == [
        "CommitLines",
        "InterceptionRequest",
        "InterceptionRequested",
        "ShipmentShipped",
    ]  # no ShipLines: the order is cancelled
    [(_, commit, _)] = [w for w in written if w[0].endswith("CommitLines")]
    assert commit["lines"][0]["quantity"] == 2  # taken from free stock if released
    [(_, request, key)] = [w for w in written if w[0] == "oms.carrier.InterceptionRequest"]
    assert key == b"SF100" and request["kind"] == "intercept" and request["location"] == "SH"


def test_a_parcel_on_the_road_is_intercepted_and_its_outcome_told_to_the_order() -> None:
    shipments = Shipments()
    for status in ("picked", "packed", "shipped"):
        shipments.warehouse(status)
    assert sorted(names(shipments.cancel())) == ["InterceptionRequest", "InterceptionRequested"]
    assert names(shipments.cancel(1)) == []  # an operator's second cancel: asked once
    written = shipments.carrier("returned_to_sender")
    assert names(written) == ["RecordInterception", "ShipmentReturned"]
    [(_, told, _)] = [w for w in written if w[0].endswith("RecordInterception")]
    assert (told["order_id"], told["outcome"]) == (str(ORDER), "intercepted")
    # The warehouse has it back, and scans it twice: restocked once, the order told once
    # (cancelled by the interception, it ignores it; one whose cancellation failed on
    # another parcel settles: tests/unit/engine/test_returned_to_sender.py).
    back = shipments.send(RecordParcelReturned(command_id="back-1", shipment_id=SHIPMENT))
    assert names(back) == ["RestockLines", "RecordShipmentReturned", "ParcelReceivedBack"]
    again = shipments.send(RecordParcelReturned(command_id="back-2", shipment_id=SHIPMENT))
    assert names(again) == []


def test_a_parcel_delivered_before_the_interception_is_told_to_the_order() -> None:
    shipments = Shipments()
    for status in ("picked", "packed", "shipped"):
        shipments.warehouse(status)
    shipments.cancel()
    written = shipments.carrier("delivered")
    [(_, told, _)] = [w for w in written if w[0].endswith("RecordInterception")]
    assert told["outcome"] == "delivered" and told["reason"] == "said the carrier"
    assert "ShipmentDelivered" in names(written)
