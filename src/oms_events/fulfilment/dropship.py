"""Drop-ship purchase orders (代发): what a supplier is asked to ship for an order.

One ``oms.dropship.PurchaseOrder`` record per order and supplier, on ``oms.dropship``
keyed by supplier id, for the lines reserved at the supplier's location; a
``PurchaseOrderCancelled`` on the same topic and key when the order is cancelled before
the supplier ships. Its id is the
shipment's (the supplier quotes it when it reports the parcel shipped, as a warehouse
does on ``oms.warehouse.updates``). Pure: the record as a dict, ready for the codec.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from oms_events.fulfilment.sourcing_plan import DROPSHIP, DropShip

PURCHASE_ORDER = "oms.dropship.PurchaseOrder"
PURCHASE_ORDER_CANCELLED = "oms.dropship.PurchaseOrderCancelled"


def purchase_order(
    order_id: UUID,
    order_no: str,
    delivery_speed: str,
    ship_to: Mapping[str, Any],
    shipment_id: UUID,
    lines: Sequence[DropShip],
    at: datetime,
) -> dict[str, Any]:
    """The purchase order asking one supplier to ship ``lines`` (all of that supplier)."""
    suppliers = {line.supplier for line in lines}
    if len(suppliers) != 1:
        raise ValueError(f"one purchase order is for one supplier, not {sorted(suppliers)}")
    return {
        "purchase_order_id": str(shipment_id),
        "shipment_id": str(shipment_id),
        "supplier": suppliers.pop(),
        "order_id": str(order_id),
        "order_no": order_no,
        "delivery_speed": delivery_speed,
        "lines": [
            {"line_no": ln.line_no, "sku": ln.sku, "quantity": ln.quantity}
            for ln in sorted(lines, key=lambda ln: ln.line_no)
        ],
        "ship_to": dict(ship_to),
        "rule": DROPSHIP,
        "ordered_at": at,
    }


def purchase_order_cancelled(
    shipment_id: UUID, supplier: str, order_id: UUID, reason: str, at: datetime
) -> dict[str, Any]:
    """The cancellation of the purchase order of ``shipment_id`` for its supplier."""
    return {
        "purchase_order_id": str(shipment_id),
        "shipment_id": str(shipment_id),
        "supplier": supplier,
        "order_id": str(order_id),
        "reason": reason,
        "cancelled_at": at,
    }
