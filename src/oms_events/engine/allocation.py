"""Allocation: a confirmed order goes to the warehouses that hold its reservations.

One record per location (a parcel) on ``oms.allocations`` (Avro ``oms.allocation.Allocation``,
keyed by location id) lists the lines to pick — for a drop-ship supplier's location,
a purchase order on ``oms.dropship`` (``oms.dropship.PurchaseOrder``, keyed by
supplier) instead; the shipment of that order and
location is opened at the same time with a CreateShipment command. A warehouse
quotes the shipment id in every update it sends back. A merge group (合单) makes one
parcel per location for all its orders (``dispatch_group``); a split order's backorder
(拆单) a parcel of its own when its stock arrives (``dispatch_backorder``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
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


def dispatch(
    order: Order,
    out: Outbox,
    cause_id: str,
    rules: Rules | None = None,
    locations: Collection[str] | None = None,
) -> None:
    """Queue the allocation record (a purchase order for a supplier) and the
    CreateShipment of each location the allocated order's lines are reserved at (only
    ``locations`` when given: a re-route's new one). Backordered lines are not sent
    (they wait for stock), nor lines a backorder's parcel took."""
    later = {n for _, line_nos in order.backorder_parcels for n in line_nos}
    by_location: dict[str, list[ShipmentLineDetails]] = defaultdict(list)
    for line_no, line in sorted(order.lines.items()):
        if line_no in order.backordered or line_no in later or line_no not in order.reservations:
            continue
        reservation_id, location = order.reservations[line_no]
        by_location[location].append(
            ShipmentLineDetails(
                line_no=line_no, sku=line.sku, quantity=line.quantity, reservation_id=reservation_id
            )
        )
    for location, lines in sorted(by_location.items()):
        if locations is not None and location not in locations:
            continue
        shipment_id = Shipment.create_id(order.id, location)
        send(order, out, cause_id, rules, location, shipment_id, lines)


def dispatch_backorder(
    order: Order,
    out: Outbox,
    cause_id: str,
    rules: Rules | None,
    shipment_id: UUID,
    location: str,
    line_nos: Collection[int],
) -> None:
    """Queue the allocation and the CreateShipment of a backorder's lines, reserved at
    ``location`` when stock arrived: a parcel of their own (拆单)."""
    lines = [
        ShipmentLineDetails(
            line_no=n,
            sku=order.lines[n].sku,
            quantity=order.lines[n].quantity,
            reservation_id=order.reservations[n][0],
        )
        for n in sorted(line_nos)
    ]
    send(order, out, cause_id, rules, location, shipment_id, lines, parcel="backorder")


def dispatch_group(
    lead: Order,
    out: Outbox,
    cause_id: str,
    rules: Rules | None,
    parcels: Mapping[str, Sequence[ShipmentLineDetails]],
    order_nos: Mapping[UUID, str],
) -> list[dict[str, Any]]:
    """Queue the one allocation and CreateShipment per location of a merge group (合单),
    hosted by its ``lead``: ``parcels`` holds every member's lines at each location,
    each naming its order. Returns the parcels (location, shipment id) sent."""
    group_id = UUID(lead.merge_group or "")
    sent: list[dict[str, Any]] = []
    for location, lines in sorted(parcels.items()):
        shipment_id = uuid.uuid5(group_id, location)  # consolidation.MergePlan.parcel_id
        send(
            lead,
            out,
            cause_id,
            rules,
            location,
            shipment_id,
            lines,
            parcel="merge",
            order_nos=order_nos,
        )
        sent.append({"location": location, "shipment_id": shipment_id})
    return sent


def send(
    order: Order,
    out: Outbox,
    cause_id: str,
    rules: Rules | None,
    location: str,
    shipment_id: UUID,
    lines: Sequence[ShipmentLineDetails],
    parcel: str = "",
    order_nos: Mapping[UUID, str] | None = None,
) -> None:
    """Queue one parcel's allocation record (a purchase order for a supplier) and its
    CreateShipment; a merged parcel's lines name their orders."""
    address, customer = order.address, order.customer
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
                "order_id": str(line.order_id) if line.order_id else None,
                "order_no": (order_nos or {}).get(line.order_id) if line.order_id else None,
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
        "merge_group": order.merge_group if parcel == "merge" else None,
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
    # What the parcel's lines cost, when the order ships in several parcels (a COD
    # courier collects it); a merged parcel's orders are paid (never COD): none.
    price = None if parcel == "merge" else order.lines_price(ln.line_no for ln in lines)
    out.command(
        CreateShipment(
            command_id=f"{cause_id}/ship/{location}",
            shipment_id=shipment_id,
            order_id=order.id,
            location=location,
            lines=tuple(lines),
            parcel_price=price.amount if price is not None else None,
            drop_ship=drop_ship,
            parcel=parcel,
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
