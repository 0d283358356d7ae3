"""Drop-ship purchase orders (代发): what a supplier is asked to ship for an order.

One ``oms.dropship.PurchaseOrder`` record per order and supplier, on ``oms.dropship``
keyed by supplier id, built from the sourcing plan's ``DropShip`` lines. Pure: the
record as a dict, ready for the codec.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from oms_events.fulfilment.sourcing_plan import DROPSHIP, DropShip

PURCHASE_ORDER = "oms.dropship.PurchaseOrder"


def purchase_orders(
    order_id: UUID,
    order_no: str,
    delivery_speed: str,
    ship_to: Mapping[str, Any],
    lines: Sequence[DropShip],
    at: datetime,
) -> list[dict[str, Any]]:
    """One purchase order record per supplier of ``lines``, suppliers in name order."""
    by_supplier: dict[str, list[DropShip]] = {}
    for line in lines:
        by_supplier.setdefault(line.supplier, []).append(line)
    return [
        {
            "purchase_order_id": f"{order_id}/{supplier}",
            "supplier": supplier,
            "order_id": str(order_id),
            "order_no": order_no,
            "delivery_speed": delivery_speed,
            "lines": [
                {"line_no": ln.line_no, "sku": ln.sku, "quantity": ln.quantity}
                for ln in sorted(mine, key=lambda ln: ln.line_no)
            ],
            "ship_to": dict(ship_to),
            "rule": DROPSHIP,
            "ordered_at": at,
        }
        for supplier, mine in sorted(by_supplier.items())
    ]
