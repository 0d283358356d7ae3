"""Allocation: a confirmed order goes to the warehouses that hold its reservations.

One record per location on ``oms.allocations`` (Avro ``oms.allocation.Allocation``,
keyed by location id) lists the lines to pick — for a drop-ship supplier's location,
a purchase order on ``oms.dropship`` (``oms.dropship.PurchaseOrder``, keyed by
supplier) instead; the shipment of that order and
location is opened at the same time with a CreateShipment command. A warehouse
quotes the shipment id in every update it sends back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from oms_events import topics
from oms_events.domain.order import Order
from oms_events.domain.shipment import Shipment
from oms_events.engine.commands import CreateShipment, ShipmentLineDetails
from oms_events.engine.outbox import Outbox
from oms_events.engine.records import Outgoing
from oms_events.engine.sourcing_rules import rule_of
from oms_events.fulfilment.dropship import PURCHASE_ORDER, purchase_order
from oms_events.fulfilment.rules import Rules
from oms_events.fulfilment.sourcing_plan import DropShip

ALLOCATION = "oms.allocation.Allocation"


def allocate(
    order: Order,
    out: Outbox,
    cause_id: str,
    reserving: Sequence[tuple[int, UUID, str]] = (),
    rules: Rules | None = None,
) -> None:
    """Record ``OrderAllocated`` (confirmed, with the ``reserving`` that complete it) and
    queue an allocation and a shipment per location, each naming the sourcing rule
    that chose its location (``rules``: the rules file; None: most stock)."""
    order.allocate(reserving)
    dispatch(order, out, cause_id, rules)


def dispatch(
    order: Order,
    out: Outbox,
    cause_id: str,
    rules: Rules | None = None,
    locations: Collection[str] | None = None,
) -> None:
    """Queue the allocation record (a purchase order for a supplier) and the
    CreateShipment of each location the allocated order's lines are reserved at (only
    ``locations`` when given: a re-route's new one)."""
    by_location: dict[str, list[ShipmentLineDetails]] = defaultdict(list)
    for line_no, line in sorted(order.lines.items()):
        reservation_id, location = order.reservations[line_no]
        by_location[location].append(
            ShipmentLineDetails(
                line_no=line_no, sku=line.sku, quantity=line.quantity, reservation_id=reservation_id
            )
        )
    address, customer = order.address, order.customer
    for location, lines in sorted(by_location.items()):
        if locations is not None and location not in locations:
            continue
        shipment_id = Shipment.create_id(order.id, location)
        record = {
            "allocation_id": str(shipment_id),
            "shipment_id": str(shipment_id),
            "order_id": str(order.id),
            "order_no": order.order_no,
            "location": location,
            "delivery_speed": order.delivery_speed.value,
            "lines": [
                {
                    "line_no": line.line_no,
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "reservation_id": str(line.reservation_id),
                }
                for line in lines
            ],
            "ship_to": {
                "name": customer.name,
                "phone": customer.phone,
                "country": address.country,
                "province": address.province,
                "city": address.city,
                "district": address.district,
                "postcode": address.postcode,
                "line1": address.line1,
            },
            "allocated_at": datetime.now(UTC),
            "rule": rule_of(order, location, rules),
        }
        drop_ship = rules is not None and location in rules.supplier_ids
        if drop_ship:
            _purchase_order(order, location, lines, record, out)
        else:
            topic = topics.name(out.settings, topics.ALLOCATIONS)
            out.add(
                Outgoing(
                    topic,
                    location.encode(),
                    out.codec.encode(ALLOCATION, record, topic=topic),
                    [("order_id", str(order.id).encode())],
                )
            )
        price = order.lines_price(line.line_no for line in lines)
        out.command(
            CreateShipment(
                command_id=f"{cause_id}/ship/{location}",
                shipment_id=shipment_id,
                order_id=order.id,
                location=location,
                lines=tuple(lines),
                parcel_price=price.amount if price is not None else None,
                drop_ship=drop_ship,
            )
        )


def _purchase_order(
    order: Order,
    supplier: str,
    lines: Sequence[ShipmentLineDetails],
    allocation: dict[str, Any],
    out: Outbox,
) -> None:
    """Queue the supplier's purchase order for ``lines`` (what its allocation would say)."""
    record = purchase_order(
        order.id,
        order.order_no,
        order.delivery_speed.value,
        allocation["ship_to"],
        UUID(allocation["shipment_id"]),
        [DropShip(ln.line_no, ln.sku, ln.quantity, supplier) for ln in lines],
        allocation["allocated_at"],
    )
    topic = topics.name(out.settings, topics.DROPSHIP)
    out.add(
        Outgoing(
            topic,
            supplier.encode(),
            out.codec.encode(PURCHASE_ORDER, record, topic=topic),
            [("order_id", str(order.id).encode())],
        )
    )
