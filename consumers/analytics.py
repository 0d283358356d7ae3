"""Projection "analytics": one fact row per order line, for the analysts' views.

Reads ``oms.order.events``; writes ``fact_order_line`` (the ``daily_sales`` and
``fulfilment_times`` views read it). The order-level facts (channel, region,
milestones) are repeated on every line so analysts need no join.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from oms_events import topics
from oms_events.eventlog import EventRecord
from oms_events.projection import rows
from oms_events.projection.rowcache import RowCache
from oms_events.projection.rows import Row
from oms_events.projection.spec import Projection, Record

FACT = (
    "order_id",
    "line_no",
    "order_no",
    "channel",
    "region",
    "sku",
    "quantity",
    "unit_price",
    "discount",
    "net_amount",
    "currency",
    "location",
    "status",
    "placed_at",
    "confirmed_at",
    "allocated_at",
    "shipped_at",
    "delivered_at",
    "cancelled_at",
    "version",
)
# Facts of the order repeated on each of its lines.
ORDER_FACTS = (
    "order_no",
    "channel",
    "region",
    "currency",
    "placed_at",
    "confirmed_at",
    "allocated_at",
    "delivered_at",
)
_SOLD = ("open", "shipped", "delivered")


def _line(data: dict[str, Any]) -> Row:
    price, discount = data["unit_price"]["amount"], data["discount"]["amount"]
    return {
        "line_no": data["line_no"],
        "sku": data["sku"],
        "quantity": data["quantity"],
        "unit_price": price,
        "discount": discount,
        "net_amount": price * data["quantity"] - discount,
        "status": "open",
    }


def placed(row: Row, e: EventRecord) -> None:
    """OrderPlaced: one fact per line."""
    p = e.payload
    address = p["address"]
    row.update(
        order_no=p["order_no"],
        channel=p["channel"],
        region=address["province"] or address["country"],
        currency=p["currency"],
        placed_at=p["placed_at"],
        lines={d["line_no"]: _line(d) for d in p["lines"]},
    )


def line_added(row: Row, e: EventRecord) -> None:
    """LineAdded."""
    line = _line(e.payload["line"])
    row["lines"][line["line_no"]] = line


def line_removed(row: Row, e: EventRecord) -> None:
    """LineRemoved: the fact stays, no longer sold."""
    row["lines"][e.payload["line_no"]].update(status="removed", cancelled_at=e.timestamp)


def quantity_changed(row: Row, e: EventRecord) -> None:
    """QuantityChanged: the sale is the new quantity and discount."""
    line = row["lines"][e.payload["line_no"]]
    line.update(quantity=e.payload["quantity"], discount=e.payload["discount"]["amount"])
    line["net_amount"] = line["unit_price"] * line["quantity"] - line["discount"]


def line_reserved(row: Row, e: EventRecord) -> None:
    """LineReserved (earlier versions, one per line): the warehouse the line comes from."""
    row["lines"][e.payload["line_no"]]["location"] = e.payload["location"]


def lines_reserved(row: Row, e: EventRecord) -> None:
    """LinesReserved: the warehouse each of these lines comes from."""
    for r in e.payload["reservations"]:
        row["lines"][r["line_no"]]["location"] = r["location"]


def confirmed(row: Row, e: EventRecord) -> None:
    """OrderConfirmed."""
    row["confirmed_at"] = e.timestamp


def allocated(row: Row, e: EventRecord) -> None:
    """OrderAllocated (confirming the order too when ``confirmed``)."""
    if e.payload.get("confirmed"):
        row["confirmed_at"] = e.timestamp
    row["allocated_at"] = e.timestamp
    for a in e.payload["allocations"]:
        row["lines"][a["line_no"]]["location"] = a["location"]


def line_shipped(row: Row, e: EventRecord) -> None:
    """LineShipped (earlier versions, one per line)."""
    row["lines"][e.payload["line_no"]].update(status="shipped", shipped_at=e.timestamp)


def lines_shipped(row: Row, e: EventRecord) -> None:
    """LinesShipped, or OrderShipped with its last lines (earlier versions': none)."""
    for line_no in e.payload.get("line_nos") or ():
        row["lines"][line_no].update(status="shipped", shipped_at=e.timestamp)


def delivered(row: Row, e: EventRecord) -> None:
    """OrderDelivered: every shipped line is delivered, when the carrier said (the event
    time in events written before that was recorded)."""
    row["delivered_at"] = e.payload.get("delivered_at") or e.timestamp
    for line in row["lines"].values():
        if line["status"] in _SOLD:
            line["status"] = "delivered"


def closed(status: str) -> rows.Handler:
    """OrderCancelled / OrderRejected: the lines still sold are not any more."""

    def handler(row: Row, e: EventRecord) -> None:
        for line in row["lines"].values():
            if line["status"] in _SOLD:
                line.update(status=status, cancelled_at=e.timestamp)

    handler.__doc__ = f"The order's lines are {status}."
    return handler


def address_changed(row: Row, e: EventRecord) -> None:
    """AddressChanged: the region follows the address."""
    address = e.payload["address"]
    row["region"] = address["province"] or address["country"]


HANDLERS: dict[str, rows.Handler] = {
    "OrderPlaced": placed,
    "LineAdded": line_added,
    "LineRemoved": line_removed,
    "QuantityChanged": quantity_changed,
    "LineReserved": line_reserved,
    "LinesReserved": lines_reserved,
    "OrderConfirmed": confirmed,
    "OrderAllocated": allocated,
    "LineShipped": line_shipped,
    "LinesShipped": lines_shipped,
    "OrderShipped": lines_shipped,
    "OrderDelivered": delivered,
    "OrderCancelled": closed("cancelled"),
    "OrderRejected": closed("rejected"),
    # Refused at the door and back at the warehouse: those lines were not sold.
    "OrderReturnedToSender": closed("returned_to_sender"),
    "AddressChanged": address_changed,
}


def _orders(facts: dict[Any, list[Row]]) -> dict[Any, Row]:
    # Rebuild each order's fold state from its fact rows (order facts are on every line).
    orders: dict[Any, Row] = {}
    for order_id, lines in facts.items():
        if lines:
            first = lines[0]
            orders[order_id] = {
                **{k: first[k] for k in ORDER_FACTS},
                "version": max(ln["version"] for ln in lines),
                "lines": {ln["line_no"]: ln for ln in lines},
            }
    return orders


def write(conn: psycopg.Connection[Any], records: Sequence[Record], cache: RowCache) -> None:
    """Fold the orders of a batch and write all their lines back, guarded by version."""
    events = [r for r in records if isinstance(r, EventRecord)]
    state = cache.rows(
        "order",
        {e.originator_id for e in events},
        lambda ids: _orders(rows.load_grouped(conn, "fact_order_line", "order_id", ids)),
    )
    changed = rows.fold(events, state, HANDLERS, creators={"OrderPlaced"})
    cache.keep("order", changed)
    out = [
        {
            **line,
            **{k: order.get(k) for k in ORDER_FACTS},
            "order_id": order_id,
            "version": order["version"],
        }
        for order_id, order in changed.items()
        for line in order["lines"].values()
    ]
    rows.upsert(
        conn, "fact_order_line", FACT, rows.as_tuples(out, FACT), key=("order_id", "line_no")
    )


PROJECTION = Projection(
    name="analytics",
    topics=(topics.events("order"),),
    group="oms-projection-analytics",
    migrations=("004_analytics.sql", "015_business_days.sql"),
    events=frozenset(HANDLERS),
    write=write,
)
