"""Projection "exceptions": what operations must look at, one row per exception.

Reads ``oms.order.events`` (late allocation, shipment or delivery, rejected orders),
``oms.shipment.events`` (failed deliveries), ``oms.inventory.events`` (rejected
reservations), ``oms.payment.events`` (cash on delivery short or over at the door,
short- or over-paid or missing in a courier's remittance file) and ``oms.deadletter``
(inputs that could not be processed; only their headers are read, as
:mod:`oms_events.deadletter` defines them). Lateness is judged from event times
against the promises of ``consumers.promises``, so a replay finds exactly the same rows.
Orders that are late *now* and have not moved are in the ``overdue_order`` view.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from consumers.promises import deadlines
from oms_events import topics
from oms_events.eventlog import EventRecord
from oms_events.projection import rows
from oms_events.projection.rowcache import RowCache
from oms_events.projection.rows import Row
from oms_events.projection.spec import DeadLetterRecord, Projection, Record

EXCEPTION = (
    "exception_id",
    "kind",
    "order_id",
    "order_no",
    "aggregate_id",
    "location",
    "reason",
    "code",
    "field",
    "message",
    "message_zh",
    "processor",
    "error_class",
    "source_topic",
    "source_partition",
    "source_offset",
    "due_at",
    "occurred_at",
)
SUBJECT = (
    "aggregate_id",
    "order_id",
    "order_no",
    "location",
    "allocate_by",
    "ship_by",
    "late_allocation",
    "late_shipment",
    "deliver_by",
    "late_delivery",
    "version",
)


def _raise(row: Row, kind: str, e: EventRecord, **fields: Any) -> None:
    # Kept on the row until write() collects it: only folded (new) events raise.
    row.setdefault("_raised", []).append(
        {
            "exception_id": f"{kind}:{e.originator_id}:{e.originator_version}",
            "kind": kind,
            "aggregate_id": e.originator_id,
            "source_topic": e.topic,
            "source_partition": e.partition,
            "source_offset": e.offset,
            "occurred_at": e.timestamp,
            **fields,
        }
    )


def order_placed(row: Row, e: EventRecord) -> None:
    """OrderPlaced: remember the deadlines the order will be judged by."""
    allocate_by, ship_by, deliver_by = deadlines(
        e.payload["placed_at"], e.payload["delivery_speed"]
    )
    row.update(
        aggregate_id=e.originator_id,
        order_id=e.originator_id,
        order_no=e.payload["order_no"],
        allocate_by=allocate_by,
        ship_by=ship_by,
        deliver_by=deliver_by,
        late_allocation=False,
        late_shipment=False,
        late_delivery=False,
    )


def _late(row: Row, e: EventRecord, kind: str, deadline: str) -> None:
    # Raise ``kind`` (a row flag too) once per order when ``e`` comes after the deadline.
    if e.timestamp > row[deadline] and not row[kind]:
        row[kind] = True
        _raise(
            row, kind, e, order_id=row["order_id"], order_no=row["order_no"], due_at=row[deadline]
        )


def order_allocated(row: Row, e: EventRecord) -> None:
    """OrderAllocated after its deadline: late_allocation (once per order)."""
    _late(row, e, "late_allocation", "allocate_by")


def line_shipped(row: Row, e: EventRecord) -> None:
    """LineShipped / LinesShipped after the ship-by deadline: late_shipment (once per
    order)."""
    _late(row, e, "late_shipment", "ship_by")


def order_shipped(row: Row, e: EventRecord) -> None:
    """OrderShipped carrying its last lines, after the ship-by deadline: late_shipment
    (earlier versions' OrderShipped carried none: their LineShipped counted)."""
    if e.payload.get("line_nos"):
        _late(row, e, "late_shipment", "ship_by")


def order_delivered(row: Row, e: EventRecord) -> None:
    """OrderDelivered after the delivery promised: late_delivery, judged by the carrier's
    delivery time (the event time in events written before it was recorded)."""
    delivered_at = e.payload.get("delivered_at") or e.timestamp
    deliver_by = row.get("deliver_by")
    if deliver_by is not None and delivered_at > deliver_by and not row.get("late_delivery"):
        row["late_delivery"] = True
        _raise(
            row,
            "late_delivery",
            e,
            order_id=row["order_id"],
            order_no=row["order_no"],
            due_at=deliver_by,
            occurred_at=delivered_at,
        )


def order_rejected(row: Row, e: EventRecord) -> None:
    """OrderRejected: no stock for the order."""
    _raise(
        row,
        "order_rejected",
        e,
        order_id=row["order_id"],
        order_no=row["order_no"],
        reason=e.payload["reason"],
    )


def shipment_created(row: Row, e: EventRecord) -> None:
    """ShipmentCreated: remember the shipment's order and warehouse."""
    row.update(
        aggregate_id=e.originator_id,
        order_id=e.payload["order_id"],
        location=e.payload["location"],
        late_allocation=False,
        late_shipment=False,
        late_delivery=False,
    )


def delivery_failed(row: Row, e: EventRecord) -> None:
    """DeliveryFailed: one row per failed attempt, at the carrier's scan time (the event
    time in events written before it was recorded); where the courier was, in message."""
    where = e.payload.get("location")
    _raise(
        row,
        "delivery_failed",
        e,
        order_id=row["order_id"],
        location=row["location"],
        reason=e.payload["reason"],
        message=f"carrier scan at {where}" if where else None,
        occurred_at=e.payload.get("occurred_at") or e.timestamp,
    )


def interception_failed(row: Row, e: EventRecord) -> None:
    """InterceptionFailed: a parcel the carrier was asked to stop (拦截) reached the
    customer; the cancellation is refused, or a cancelled order's goods were delivered."""
    _raise(
        row,
        "interception_failed",
        e,
        order_id=row["order_id"],
        order_no=row["order_no"],
        reason=e.payload["reason"],
    )


HANDLERS: dict[str, rows.Handler] = {
    "OrderPlaced": order_placed,
    "OrderAllocated": order_allocated,
    "LineShipped": line_shipped,
    "LinesShipped": line_shipped,
    "OrderShipped": order_shipped,
    "OrderRejected": order_rejected,
    "OrderDelivered": order_delivered,
    "ShipmentCreated": shipment_created,
    "DeliveryFailed": delivery_failed,
    "InterceptionFailed": interception_failed,
}


def reservation_rejected(e: EventRecord) -> Row:
    """ReservationRejected (inventory): a line could not get stock; needs no state."""
    p = e.payload
    return {
        "exception_id": f"reservation_rejected:{e.originator_id}:{e.originator_version}",
        "kind": "reservation_rejected",
        "order_id": p["order_id"],
        "aggregate_id": e.originator_id,
        "reason": p["reason"],
        "message": f"{p['quantity']} requested, {p['available']} available",
        "source_topic": e.topic,
        "source_partition": e.partition,
        "source_offset": e.offset,
        "occurred_at": e.timestamp,
    }


COD_KINDS = {
    "short_paid": "cod_short_paid",
    "over_paid": "cod_over_paid",
}


def cod_exception(e: EventRecord) -> Row | None:
    """Cash on delivery someone must look at (needs no state): collected short or over
    at the door, remitted short or over, or missing from a remittance file."""
    p = e.payload
    if e.name == "CodCollected":
        expected = (p.get("expected") or {}).get("amount")
        if expected is None or expected == p["amount"]["amount"]:
            return None
        kind = "cod_collected_short" if p["amount"]["amount"] < expected else "cod_collected_over"
        message = (
            f"waybill {p.get('tracking_no')}: collected {p['amount']['amount']}, asked {expected}"
        )
    elif e.name == "CodRemitted":
        if p["outcome"] not in COD_KINDS:
            return None
        kind = COD_KINDS[p["outcome"]]
        message = (
            f"waybill {p['tracking_no']}: remittance file {p['batch']} states "
            f"{p['amount']['amount']} (fee {p['fee']['amount']}), {p['outcome']}"
        )
    else:  # CodRemittanceMissing
        kind = "cod_missing"
        message = f"waybill {p['tracking_no']} collected, not in remittance file {p['batch']}"
    return {
        "exception_id": f"{kind}:{e.originator_id}:{e.originator_version}",
        "kind": kind,
        "order_id": p.get("order_id") or None,
        "order_no": p.get("order_no") or None,
        "aggregate_id": e.originator_id,
        "reason": p.get("tracking_no"),
        "code": f"cod.{kind.removeprefix('cod_')}",
        "message": message,
        "source_topic": e.topic,
        "source_partition": e.partition,
        "source_offset": e.offset,
        "occurred_at": e.timestamp,
    }


COD_EVENTS = frozenset({"CodCollected", "CodRemitted", "CodRemittanceMissing"})


def dead_letter(d: DeadLetterRecord) -> Row:
    """A dead-lettered input: its headers (:mod:`oms_events.deadletter`) say why; its
    bytes stay on Kafka.

    The id names the refusing processor and the input, so the same input dead-lettered
    twice (a projection writes its dead letters at least once) is one row.
    """
    letter, source = d.letter, d.letter.source
    if source.topic and source.offset >= 0:
        position = letter.context.get("position", "")
        where = f"{letter.processor}:{source.topic}:{source.partition}:{source.offset}:{position}"
    else:
        where = f"{d.topic}:{d.partition}:{d.offset}"
    return {
        "exception_id": f"dead_letter:{where}",
        "kind": "dead_letter",
        "code": letter.reason.code or None,
        "field": letter.reason.field or None,
        "message": letter.reason.en or None,
        "message_zh": letter.reason.zh or None,
        "processor": letter.processor or None,
        "error_class": letter.reason.error_class or None,
        "source_topic": source.topic or d.topic,
        "source_partition": source.partition if source.topic else d.partition,
        "source_offset": source.offset if source.topic else d.offset,
        "occurred_at": d.timestamp,
    }


def write(conn: psycopg.Connection[Any], records: Sequence[Record], cache: RowCache) -> None:
    """Judge a batch and insert the exceptions it raises (each id at most once)."""
    events = [r for r in records if isinstance(r, EventRecord)]
    subject_events = [e for e in events if e.name in HANDLERS]
    state = cache.rows(
        "subject",
        {e.originator_id for e in subject_events},
        lambda ids: rows.load(conn, "exception_subject", "aggregate_id", ids),
    )
    changed = rows.fold(
        subject_events, state, HANDLERS, creators={"OrderPlaced", "ShipmentCreated"}
    )
    cache.keep("subject", changed)
    found = [x for row in changed.values() for x in row.pop("_raised", [])]
    found += [reservation_rejected(e) for e in events if e.name == "ReservationRejected"]
    found += [x for e in events if e.name in COD_EVENTS and (x := cod_exception(e))]
    found += [dead_letter(r) for r in records if isinstance(r, DeadLetterRecord)]
    rows.upsert(
        conn,
        "exception_subject",
        SUBJECT,
        rows.as_tuples(changed.values(), SUBJECT),
        key=("aggregate_id",),
    )
    rows.insert_new(conn, "exception", EXCEPTION, rows.as_tuples(found, EXCEPTION))


PROJECTION = Projection(
    name="exceptions",
    topics=(
        topics.events("order"),
        topics.events("shipment"),
        topics.events("inventory"),
        topics.events("payment"),
        topics.DEADLETTER,
    ),
    group="oms-projection-exceptions",
    migrations=(
        "003_exceptions.sql",
        "005_dead_letter_reasons.sql",
        "011_late_delivery.sql",
        "012_interception_exceptions.sql",
        "014_cod_exceptions.sql",
    ),
    events=frozenset(HANDLERS) | {"ReservationRejected"} | COD_EVENTS,
    write=write,
    reads_dead_letters=True,
)
