"""Projection "tracking": orders, their lines and timeline, and shipments.

Reads ``oms.order.events`` and ``oms.shipment.events``; writes ``order_tracking``,
``order_line``, ``order_timeline``, ``shipment_tracking`` and ``shipment_scan`` (the
``overdue_order`` view reads ``order_tracking``, ``silent_parcel`` reads
``shipment_tracking``). ``oms order show`` and ``oms shipment show`` read these tables.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from consumers.promises import deadlines
from oms_events import topics
from oms_events.eventlog import EventRecord
from oms_events.projection import rows
from oms_events.projection.rowcache import RowCache
from oms_events.projection.rows import Row
from oms_events.projection.spec import Projection, Record

ORDER = (
    "order_id",
    "order_no",
    "channel",
    "external_id",
    "customer_name",
    "phone",
    "customer_account",
    "region",
    "city",
    "status",
    "currency",
    "lines_total",
    "discount_total",
    "shipping_fee",
    "order_total",
    "tax",
    "receiver_masked",
    "amount_paid",
    "amount_refunded",
    "payment_method",
    "delivery_speed",
    "placed_at",
    "promised_allocate_by",
    "promised_ship_by",
    "promised_delivery_by",
    "confirmed_at",
    "allocated_at",
    "shipped_at",
    "delivered_at",
    "completed_at",
    "closed_at",
    "close_reason",
    "hold_reason",
    "status_before_hold",
    "merge_group",
    "backordered_units",
    "version",
    "updated_at",
)
LINE = (
    "order_id",
    "line_no",
    "sku",
    "quantity",
    "unit_price",
    "discount",
    "net_amount",
    "promotions",
    "status",
    "location",
    "reservation_id",
    "shipment_id",
    "shipped_at",
    "version",
)
SHIPMENT = (
    "shipment_id",
    "order_id",
    "location",
    "status",
    "units",
    "carrier",
    "tracking_no",
    "created_at",
    "picked_at",
    "packed_at",
    "shipped_at",
    "in_transit_at",
    "delivered_at",
    "failed_attempts",
    "last_failure",
    "returned_at",
    "cancelled_at",
    "close_reason",
    "out_for_delivery_at",
    "last_scan_at",
    "last_scan_status",
    "last_scan_location",
    "eta",
    "signer",
    "version",
    "updated_at",
)
SCAN = (
    "shipment_id",
    "version",
    "order_id",
    "carrier",
    "tracking_no",
    "status",
    "occurred_at",
    "location",
    "eta",
    "signer",
    "reason",
    "recorded_at",
)
TIMELINE = ("aggregate_id", "version", "order_id", "aggregate", "event", "at", "detail")


# --- orders -----------------------------------------------------------------------


def _line(order_id: Any, data: dict[str, Any]) -> Row:
    quantity = data["quantity"]
    price, discount = data["unit_price"]["amount"], data["discount"]["amount"]
    return {
        "order_id": order_id,
        "line_no": data["line_no"],
        "sku": data["sku"],
        "quantity": quantity,
        "unit_price": price,
        "discount": discount,
        "net_amount": price * quantity - discount,
        "promotions": list(data["promotions"]),
        "status": "open",
    }


def _totals(row: Row) -> None:
    live = [ln for ln in row["lines"].values() if ln["status"] != "removed"]
    row["lines_total"] = sum(ln["net_amount"] for ln in live)
    row["discount_total"] = sum(ln["discount"] for ln in live)
    row["order_total"] = row["lines_total"] + row["shipping_fee"] + row["tax"]


def _unconfirm(row: Row) -> None:
    # A new or resized line has no stock yet (as the Order aggregate rules).
    if row["status"] == "confirmed":
        row["status"] = "pending"
    if row["status_before_hold"] == "confirmed":
        row["status_before_hold"] = "pending"


def placed(row: Row, e: EventRecord) -> None:
    """OrderPlaced: the order, its customer, address, lines and promises."""
    p = e.payload
    address = p["address"]
    allocate_by, ship_by, deliver_by = deadlines(p["placed_at"], p["delivery_speed"])
    row.update(
        order_id=e.originator_id,
        order_no=p["order_no"],
        channel=p["channel"],
        external_id=p["external_id"],
        customer_name=p["customer"]["name"],
        phone=p["customer"]["phone"],
        customer_account=p["customer"]["account"],
        region=address["province"] or address["country"],
        city=address["city"],
        status="pending",
        currency=p["currency"],
        shipping_fee=p["shipping_fee"]["amount"],
        # Tax on top of the prices, and masked receivers: absent from earlier OrderPlaced.
        tax=p["tax"]["amount"] if p.get("tax") else 0,
        receiver_masked=bool(p.get("receiver_masked")),
        # Paid at the channel: recorded with the order (earlier: a PaymentRecorded).
        amount_paid=p["payment"]["amount"]["amount"] if p.get("payment") else 0,
        amount_refunded=0,
        payment_method=p["payment_method"],
        delivery_speed=p["delivery_speed"],
        placed_at=p["placed_at"],
        promised_allocate_by=allocate_by,
        promised_ship_by=ship_by,
        promised_delivery_by=deliver_by,
        status_before_hold=None,
        hold_reason=None,
        merge_group=None,
        backordered_units=0,
        lines={d["line_no"]: _line(e.originator_id, d) for d in p["lines"]},
    )
    _totals(row)


def line_added(row: Row, e: EventRecord) -> None:
    """LineAdded."""
    line = _line(e.originator_id, e.payload["line"])
    row["lines"][line["line_no"]] = line
    _unconfirm(row)
    _totals(row)


def line_removed(row: Row, e: EventRecord) -> None:
    """LineRemoved: the line stays, marked removed."""
    row["lines"][e.payload["line_no"]].update(status="removed", reservation_id=None)
    _totals(row)


def quantity_changed(row: Row, e: EventRecord) -> None:
    """QuantityChanged: new quantity and discount; the line must be reserved again."""
    line = row["lines"][e.payload["line_no"]]
    line.update(
        quantity=e.payload["quantity"],
        discount=e.payload["discount"]["amount"],
        status="open",
        reservation_id=None,
    )
    line["net_amount"] = line["unit_price"] * line["quantity"] - line["discount"]
    _unconfirm(row)
    _totals(row)


def line_reserved(row: Row, e: EventRecord) -> None:
    """LineReserved (earlier versions, one per line): stock is held for the line."""
    _reserved(row, e.payload)


def lines_reserved(row: Row, e: EventRecord) -> None:
    """LinesReserved: stock is held for these lines, each at its location."""
    for r in e.payload["reservations"]:
        _reserved(row, r)


def _reserved(row: Row, r: dict[str, Any]) -> None:
    row["lines"][r["line_no"]].update(
        status="reserved", location=r["location"], reservation_id=r["reservation_id"]
    )


def allocated(row: Row, e: EventRecord) -> None:
    """OrderAllocated: the lines go to their warehouses (confirmed by the same event
    when ``confirmed``; earlier versions wrote an OrderConfirmed first)."""
    if e.payload.get("confirmed"):
        row["confirmed_at"] = e.timestamp
    row.update(status="allocated", allocated_at=e.timestamp)
    for a in e.payload["allocations"]:
        row["lines"][a["line_no"]].update(
            status="allocated", location=a["location"], reservation_id=a["reservation_id"]
        )


def rerouted(row: Row, e: EventRecord) -> None:
    """AllocationRerouted: the moved lines ship from the new location."""
    for d in e.payload["lines"]:
        row["lines"][d["line_no"]].update(
            location=e.payload["to_location"], reservation_id=d["reservation_id"]
        )


def line_shipped(row: Row, e: EventRecord) -> None:
    """LineShipped (earlier versions, one per line)."""
    row["status"] = "partially_shipped"
    _shipped(row, e, [e.payload["line_no"]])


def lines_shipped(row: Row, e: EventRecord) -> None:
    """LinesShipped: a shipment left with these lines; others are still to ship."""
    row["status"] = "partially_shipped"
    _shipped(row, e, e.payload["line_nos"])


def order_shipped(row: Row, e: EventRecord) -> None:
    """OrderShipped: the last lines left (none listed in earlier versions' events)."""
    _shipped(row, e, e.payload.get("line_nos") or [])
    row.update(status="shipped", shipped_at=e.timestamp)


def _shipped(row: Row, e: EventRecord, line_nos: Sequence[int]) -> None:
    for line_no in line_nos:
        row["lines"][line_no].update(
            status="shipped", shipment_id=e.payload["shipment_id"], shipped_at=e.timestamp
        )


def status_at(status: str, column: str | None = None) -> rows.Handler:
    """A handler that sets the status (and the time it happened, in ``column``)."""

    def handler(row: Row, e: EventRecord) -> None:
        row["status"] = status
        if column:
            row[column] = e.timestamp

    handler.__doc__ = f"The order becomes {status}."
    return handler


def order_delivered(row: Row, e: EventRecord) -> None:
    """OrderDelivered: at the carrier's delivery time (the event time in events
    written before it was recorded)."""
    row.update(status="delivered", delivered_at=e.payload.get("delivered_at") or e.timestamp)


def held(row: Row, e: EventRecord) -> None:
    """OrderHeld: remember where it was, to go back there on release."""
    row.update(status_before_hold=row["status"], hold_reason=e.payload["reason"], status="on_hold")


def hold_released(row: Row, e: EventRecord) -> None:
    """OrderReleased: back where it was before the hold."""
    row.update(
        status=row["status_before_hold"] or "pending", status_before_hold=None, hold_reason=None
    )


def pre_ordered(row: Row, e: EventRecord) -> None:
    """PreOrdered: waiting for stock; any hold is over."""
    row.update(status="pre_order", status_before_hold=None, hold_reason=None)


def closed(status: str) -> rows.Handler:
    """A handler for OrderCancelled / OrderRejected: closed with a reason."""

    def handler(row: Row, e: EventRecord) -> None:
        row.update(
            status=status,
            closed_at=e.timestamp,
            close_reason=e.payload["reason"],
            status_before_hold=None,
            hold_reason=None,
        )

    handler.__doc__ = f"The order is {status}."
    return handler


def address_changed(row: Row, e: EventRecord) -> None:
    """AddressChanged: new region, city and shipping fee."""
    address = e.payload["address"]
    row.update(
        region=address["province"] or address["country"],
        city=address["city"],
        shipping_fee=e.payload["shipping_fee"]["amount"],
    )
    _totals(row)


def receiver_revealed(row: Row, e: EventRecord) -> None:
    """ReceiverRevealed: the real receiver, from the platform's decrypt API."""
    customer, address = e.payload["customer"], e.payload["address"]
    row.update(
        customer_name=customer["name"],
        phone=customer["phone"],
        region=address["province"] or address["country"],
        city=address["city"],
        receiver_masked=False,
    )


def payment_recorded(row: Row, e: EventRecord) -> None:
    """PaymentRecorded."""
    row["amount_paid"] += e.payload["amount"]["amount"]


def refund_recorded(row: Row, e: EventRecord) -> None:
    """RefundRecorded."""
    row["amount_refunded"] += e.payload["amount"]["amount"]


def merged(row: Row, e: EventRecord) -> None:
    """MergeRequested / MergeJoined: the order ships in a merge group (合单)."""
    row["merge_group"] = e.payload["group_id"]


def merge_left(row: Row, e: EventRecord) -> None:
    """MergeLeft: the order ships alone again."""
    row["merge_group"] = None


def _backordered(row: Row) -> None:
    row["backordered_units"] = sum(
        ln["quantity"] for ln in row["lines"].values() if ln["status"] == "backordered"
    )


def split(row: Row, e: EventRecord) -> None:
    """OrderSplit (拆单): cut lines ship fewer units now (reserved anew), the units
    short wait on backordered lines."""
    p = e.payload
    for c in p["cuts"]:
        line = row["lines"][c["line_no"]]
        line.update(
            quantity=c["quantity"],
            discount=c["discount"]["amount"],
            status="open",
            reservation_id=None,
        )
        line["net_amount"] = line["unit_price"] * line["quantity"] - line["discount"]
    for data in p["added"]:
        row["lines"][data["line_no"]] = _line(e.originator_id, data)
    for line_no in p["backordered"]:
        row["lines"][line_no].update(status="backordered", reservation_id=None)
    if row["status"] == "pre_order":
        row["status"] = "pending"
    _backordered(row)
    _totals(row)


def backorder_allocated(row: Row, e: EventRecord) -> None:
    """BackorderAllocated: backordered lines got their stock and go to a warehouse."""
    for a in e.payload["allocations"]:
        row["lines"][a["line_no"]].update(
            status="allocated", location=a["location"], reservation_id=a["reservation_id"]
        )
    _backordered(row)


ORDER_HANDLERS: dict[str, rows.Handler] = {
    "OrderPlaced": placed,
    "LineAdded": line_added,
    "LineRemoved": line_removed,
    "QuantityChanged": quantity_changed,
    "LineReserved": line_reserved,
    "LinesReserved": lines_reserved,
    "OrderConfirmed": status_at("confirmed", "confirmed_at"),
    "PreOrdered": pre_ordered,
    "OrderHeld": held,
    "OrderReleased": hold_released,
    "OrderAllocated": allocated,
    "LineShipped": line_shipped,
    "LinesShipped": lines_shipped,
    "OrderShipped": order_shipped,
    "OrderDelivered": order_delivered,
    # Timeline only: the order is delivered when its last shipment is.
    "OrderShipmentDelivered": lambda row, e: None,
    "OrderCompleted": status_at("completed", "completed_at"),
    "OrderCancelled": closed("cancelled"),
    "OrderRejected": closed("rejected"),
    # Every parcel came back undelivered (拒收退回): closed, with the carrier's reason.
    "OrderReturnedToSender": closed("returned_to_sender"),
    "AddressChanged": address_changed,
    "ReceiverRevealed": receiver_revealed,
    "PaymentRecorded": payment_recorded,
    "RefundRecorded": refund_recorded,
    # Recorded in the timeline only; the balance is already in the amounts.
    "PaymentDue": lambda row, e: None,
    "RefundDue": lambda row, e: None,
    # A cancellation waiting for the carrier (拦截), and its outcomes: the status moves
    # with OrderCancelled / OrderDelivered; these say why, in the timeline.
    "CancellationRequested": lambda row, e: None,
    "ShipmentIntercepted": lambda row, e: None,
    "InterceptionFailed": lambda row, e: None,
    # A parcel returned to sender that we did not intercept, and back at the warehouse:
    # the status moves with OrderReturnedToSender / OrderDelivered.
    "ShipmentReturnedToSender": lambda row, e: None,
    "ReturnedParcelReceived": lambda row, e: None,
    # Returns: the timeline says when one opened and how it ended (return_tracking has
    # the rest); RefundAgreed too, the refund its return asked for.
    "ReturnOpened": lambda row, e: None,
    "ReturnResolved": lambda row, e: None,
    "RefundAgreed": lambda row, e: None,
    # A return's refund waiting for a COD courier's cash: agreed when it comes.
    "RefundWaiting": lambda row, e: None,
    # An operator's actions: who did what is in the timeline; the action's own events
    # move the row. A re-route moves lines once the old shipment is withdrawn.
    "OperatorActed": lambda row, e: None,
    "RerouteRequested": lambda row, e: None,
    "RerouteReserved": lambda row, e: None,
    "RerouteFailed": lambda row, e: None,
    "AllocationRerouted": rerouted,
    # Merging (合单) and splitting (拆单): the group's protocol is in the timeline.
    "MergeRequested": merged,
    "MergeJoined": merged,
    "MergeLeft": merge_left,
    "MergeReported": lambda row, e: None,
    "MergeFormed": lambda row, e: None,
    "MergeDispatched": lambda row, e: None,
    "OrderSplit": split,
    "BackorderAllocated": backorder_allocated,
}

# --- shipments ----------------------------------------------------------------------


def shipment_created(row: Row, e: EventRecord) -> None:
    """ShipmentCreated."""
    p = e.payload
    row.update(
        shipment_id=e.originator_id,
        order_id=p["order_id"],
        location=p["location"],
        status="created",
        units=sum(ln["quantity"] for ln in p["lines"]),
        created_at=e.timestamp,
        failed_attempts=0,
    )


def shipment_at(status: str, column: str) -> rows.Handler:
    """A handler that moves a shipment to ``status`` at the event's time."""

    def handler(row: Row, e: EventRecord) -> None:
        row.update(status=status, **{column: e.timestamp})

    handler.__doc__ = f"The shipment becomes {status}."
    return handler


def shipment_shipped(row: Row, e: EventRecord) -> None:
    """ShipmentShipped: handed to a carrier."""
    row.update(
        status="shipped",
        shipped_at=e.timestamp,
        carrier=e.payload["carrier"],
        tracking_no=e.payload["tracking_no"],
    )


def _scan(row: Row, e: EventRecord, status: str) -> datetime:
    # A carrier event's scan: its time (the event's, in events written before scans were
    # recorded), the newest-scan columns, and a shipment_scan row collected by write().
    p = e.payload
    at: datetime = p.get("occurred_at") or e.timestamp
    if p.get("eta"):
        row["eta"] = p["eta"]
    if row.get("last_scan_at") is None or at >= row["last_scan_at"]:
        row.update(last_scan_at=at, last_scan_status=status, last_scan_location=p.get("location"))
    row.setdefault("_scans", []).append(
        {
            "shipment_id": e.originator_id,
            "version": e.originator_version,
            "order_id": row["order_id"],
            "carrier": row.get("carrier"),
            "tracking_no": row.get("tracking_no"),
            "status": status,
            "occurred_at": at,
            "location": p.get("location"),
            "eta": p.get("eta"),
            "signer": p.get("signer"),
            "reason": p.get("reason"),
            "recorded_at": e.timestamp,
        }
    )
    return at


def in_transit(row: Row, e: EventRecord) -> None:
    """ShipmentInTransit: a scan on the way."""
    row.update(status="in_transit", in_transit_at=_scan(row, e, "in_transit"))


def out_for_delivery(row: Row, e: EventRecord) -> None:
    """ShipmentOutForDelivery: a courier has it (派送中)."""
    row.update(status="out_for_delivery", out_for_delivery_at=_scan(row, e, "out_for_delivery"))


def shipment_delivered(row: Row, e: EventRecord) -> None:
    """ShipmentDelivered: when and to whom."""
    at = _scan(row, e, "delivered")
    row.update(status="delivered", delivered_at=at, signer=e.payload.get("signer"))


def delivery_failed(row: Row, e: EventRecord) -> None:
    """DeliveryFailed: one more failed attempt."""
    _scan(row, e, "delivery_failed")
    row.update(status="delivery_failed", last_failure=e.payload["reason"])
    row["failed_attempts"] += 1


def shipment_returned(row: Row, e: EventRecord) -> None:
    """ShipmentReturned: on its way back to us, with the reason."""
    at = _scan(row, e, "returned_to_sender")
    row.update(status="returned", close_reason=e.payload["reason"], returned_at=at)


def shipment_closed(status: str, column: str) -> rows.Handler:
    """A handler for ShipmentCancelled, with a reason."""

    def handler(row: Row, e: EventRecord) -> None:
        row.update(status=status, close_reason=e.payload["reason"], **{column: e.timestamp})

    handler.__doc__ = f"The shipment is {status}."
    return handler


SHIPMENT_HANDLERS: dict[str, rows.Handler] = {
    "ShipmentCreated": shipment_created,
    "ShipmentPicked": shipment_at("picked", "picked_at"),
    "ShipmentPacked": shipment_at("packed", "packed_at"),
    "ShipmentShipped": shipment_shipped,
    "ShipmentInTransit": in_transit,
    "ShipmentOutForDelivery": out_for_delivery,
    "ShipmentDelivered": shipment_delivered,
    "DeliveryFailed": delivery_failed,
    "ShipmentReturned": shipment_returned,
    "ShipmentCancelled": shipment_closed("cancelled", "cancelled_at"),
    # A merged parcel (合单) without a cancelled order's lines: fewer units leave.
    "ShipmentOrderWithdrawn": lambda row, e: row.update(units=row["units"] - e.payload["units"]),
}


def _detail(payload: dict[str, Any]) -> Jsonb:
    shown = {k: v for k, v in payload.items() if k != "originator_topic"}
    return Jsonb(shown, dumps=lambda obj: json.dumps(obj, default=str, ensure_ascii=False))


def _load_orders(conn: psycopg.Connection[Any], order_ids: Collection[Any]) -> dict[Any, Row]:
    # An order's fold state is its row with its lines by line number.
    orders = rows.load(conn, "order_tracking", "order_id", order_ids)
    for order_id, lines in rows.load_grouped(conn, "order_line", "order_id", order_ids).items():
        if order_id in orders:
            orders[order_id]["lines"] = {ln["line_no"]: ln for ln in lines}
    return orders


def write(conn: psycopg.Connection[Any], records: Sequence[Record], cache: RowCache) -> None:
    """Fold orders and shipments of a batch, then write rows and timeline entries."""
    events = [r for r in records if isinstance(r, EventRecord)]
    order_events = [e for e in events if e.aggregate_type == "order"]
    shipment_events = [e for e in events if e.aggregate_type == "shipment"]

    orders = cache.rows(
        "order", {e.originator_id for e in order_events}, lambda ids: _load_orders(conn, ids)
    )
    before = {k: r["version"] for k, r in orders.items()}
    changed = rows.fold(order_events, orders, ORDER_HANDLERS, creators={"OrderPlaced"})
    cache.keep("order", changed)

    shipments = cache.rows(
        "shipment",
        {e.originator_id for e in shipment_events},
        lambda ids: rows.load(conn, "shipment_tracking", "shipment_id", ids),
    )
    shipment_before = {k: r["version"] for k, r in shipments.items()}
    changed_shipments = rows.fold(
        shipment_events, shipments, SHIPMENT_HANDLERS, creators={"ShipmentCreated"}
    )
    cache.keep("shipment", changed_shipments)
    scans = [scan for row in changed_shipments.values() for scan in row.pop("_scans", [])]

    timeline = [
        (
            e.originator_id,
            e.originator_version,
            e.originator_id,
            "order",
            e.name,
            e.timestamp,
            _detail(e.payload),
        )
        for e in order_events
        if e.originator_id in changed and e.originator_version > before.get(e.originator_id, 0)
    ] + [
        (
            e.originator_id,
            e.originator_version,
            shipments[e.originator_id]["order_id"],
            "shipment",
            e.name,
            e.timestamp,
            _detail(e.payload),
        )
        for e in shipment_events
        if e.originator_id in changed_shipments
        and e.originator_version > shipment_before.get(e.originator_id, 0)
    ]
    lines = [dict(ln, version=o["version"]) for o in changed.values() for ln in o["lines"].values()]
    rows.upsert(
        conn, "order_tracking", ORDER, rows.as_tuples(changed.values(), ORDER), key=("order_id",)
    )
    rows.upsert(conn, "order_line", LINE, rows.as_tuples(lines, LINE), key=("order_id", "line_no"))
    rows.upsert(
        conn,
        "shipment_tracking",
        SHIPMENT,
        rows.as_tuples(changed_shipments.values(), SHIPMENT),
        key=("shipment_id",),
    )
    rows.insert_new(conn, "order_timeline", TIMELINE, timeline)
    rows.insert_new(conn, "shipment_scan", SCAN, rows.as_tuples(scans, SCAN))


PROJECTION = Projection(
    name="tracking",
    topics=(topics.events("order"), topics.events("shipment")),
    group="oms-projection-tracking",
    migrations=(
        "002_tracking.sql",
        "010_shipments.sql",
        "016_order_tax.sql",
        "017_review_queue.sql",
        "022_returned_to_sender.sql",
        "031_merge_split.sql",
    ),
    events=frozenset(ORDER_HANDLERS) | frozenset(SHIPMENT_HANDLERS),
    write=write,
)
