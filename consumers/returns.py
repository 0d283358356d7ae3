"""Projection "returns": one row per return (RMA) in ``return_tracking``.

Reads ``oms.return.events``. The ``return_reason_rate`` view joins it with the
analytics projection's ``fact_order_line`` (shipped units by sku and channel), so
this projection's migrations include the analytics file; ``overdue_return`` lists
approved returns whose parcel was neither scanned nor received in time.
``oms return show`` reads these rows.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from oms_events import topics
from oms_events.domain.money import Money
from oms_events.eventlog import EventRecord
from oms_events.projection import rows
from oms_events.projection.rowcache import RowCache
from oms_events.projection.rows import Row
from oms_events.projection.spec import Projection, Record

RETURN = (
    "return_id",
    "return_no",
    "order_id",
    "channel",
    "status",
    "reason",
    "refund_only",
    "exchange_order_id",
    "exchange_lines",
    "lines",
    "currency",
    "worth",
    "requested_at",
    "decided_by",
    "decided_at",
    "rejected_reason",
    "parcel_due_at",
    "carrier",
    "tracking_no",
    "shipped_at",
    "last_scan_status",
    "last_scan_at",
    "last_scan_location",
    "location",
    "received_at",
    "received_units",
    "inspected_at",
    "restocked_units",
    "written_off_units",
    "refund_amount",
    "refunded_at",
    "closed_at",
    "version",
    "updated_at",
)
_JSON = ("lines", "exchange_lines")


def requested(row: Row, e: EventRecord) -> None:
    """ReturnRequested: the return, its lines and what they are worth."""
    p = e.payload
    worth = 0
    lines = []
    for line in p["lines"]:
        net = Money.from_dict(line["unit_price"]) * line["ordered_quantity"] - Money.from_dict(
            line["discount"]
        )
        worth += net.prorate(line["quantity"], line["ordered_quantity"]).amount
        lines.append(
            {
                "line_no": line["line_no"],
                "sku": line["sku"],
                "quantity": line["quantity"],
                "received": None,
                "outcome": None,
                "outcome_reason": None,
            }
        )
    row.update(
        return_id=e.originator_id,
        return_no=p["return_no"],
        order_id=p["order_id"],
        channel=p.get("channel"),
        status="requested",
        reason=p["reason"],
        refund_only=p.get("refund_only", False),
        exchange_order_id=p.get("exchange_order_id"),
        exchange_lines=list(p.get("exchange_lines") or []),
        lines=lines,
        currency=p["currency"],
        worth=worth,
        requested_at=e.timestamp,
        received_units=0,
        restocked_units=0,
        written_off_units=0,
    )


def approved(row: Row, e: EventRecord) -> None:
    """ReturnApproved: by the rules or an operator; the parcel is due by a time."""
    row.update(
        status="approved",
        decided_by=e.payload["by"],
        decided_at=e.timestamp,
        parcel_due_at=e.payload.get("parcel_due_at"),
    )


def rejected(row: Row, e: EventRecord) -> None:
    """ReturnRejected: by the rules or an operator, with why."""
    row.update(
        status="rejected",
        decided_by=e.payload["by"],
        decided_at=e.timestamp,
        rejected_reason=e.payload["reason"],
        closed_at=e.timestamp,
    )


def shipped(row: Row, e: EventRecord) -> None:
    """ReturnShipped: the customer's parcel, carrier and waybill."""
    row.update(
        status="shipped",
        carrier=e.payload["carrier"],
        tracking_no=e.payload["tracking_no"],
        shipped_at=e.timestamp,
    )


def scanned(row: Row, e: EventRecord) -> None:
    """ReturnParcelScanned: the carrier's latest scan (an older scan arriving late
    does not replace a newer one)."""
    p = e.payload
    if row.get("last_scan_at") is not None and p["occurred_at"] < row["last_scan_at"]:
        return
    row.update(
        last_scan_status=p["status"],
        last_scan_at=p["occurred_at"],
        last_scan_location=p.get("location"),
    )


def _line(row: Row, line_no: int) -> dict[str, Any]:
    line: dict[str, Any] = next(ln for ln in row["lines"] if ln["line_no"] == line_no)
    return line


def received(row: Row, e: EventRecord) -> None:
    """ReturnReceived: where, and how many units of each line arrived."""
    for part in e.payload["lines"]:
        _line(row, part["line_no"])["received"] = part["quantity"]
    row.update(
        status="received",
        location=e.payload.get("location"),
        received_at=e.timestamp,
        received_units=sum(part["quantity"] for part in e.payload["lines"]),
    )


def _inspected(outcome: str, column: str) -> rows.Handler:
    def handler(row: Row, e: EventRecord) -> None:
        for part in e.payload["lines"]:
            line = _line(row, part["line_no"])
            line.update(outcome=outcome, outcome_reason=part.get("reason"))
            row[column] = (row.get(column) or 0) + part["quantity"]
        row.update(status="inspected", inspected_at=e.timestamp)

    handler.__doc__ = f"The inspected units judged {outcome}."
    return handler


def refunded(row: Row, e: EventRecord) -> None:
    """ReturnRefunded: the amount the order agreed."""
    row.update(
        status="refunded",
        refund_amount=e.payload["amount"]["amount"],
        refunded_at=e.timestamp,
        closed_at=e.timestamp,
    )


def closed(row: Row, e: EventRecord) -> None:
    """ReturnClosed / ReturnCancelled: the return ended without a refund."""
    row.update(status="closed" if e.name == "ReturnClosed" else "cancelled", closed_at=e.timestamp)


HANDLERS: dict[str, rows.Handler] = {
    "ReturnRequested": requested,
    "ReturnApproved": approved,
    "ReturnRejected": rejected,
    "ReturnShipped": shipped,
    "ReturnParcelScanned": scanned,
    "ReturnReceived": received,
    "ReturnRestocked": _inspected("resellable", "restocked_units"),
    "ReturnWrittenOff": _inspected("damaged", "written_off_units"),
    "ReturnRefunded": refunded,
    "ReturnClosed": closed,
    "ReturnCancelled": closed,
}


def _load(conn: psycopg.Connection[Any], ids: Collection[Any]) -> dict[Any, Row]:
    return rows.load(conn, "return_tracking", "return_id", ids)


def write(conn: psycopg.Connection[Any], records: Sequence[Record], cache: RowCache) -> None:
    """Fold a batch of return events into their rows and write the changed ones."""
    events = [r for r in records if isinstance(r, EventRecord)]
    state = cache.rows("return", {e.originator_id for e in events}, lambda ids: _load(conn, ids))
    changed = rows.fold(events, state, HANDLERS, creators={"ReturnRequested"})
    cache.keep("return", changed)
    out = [{**row, **{c: Jsonb(row[c]) for c in _JSON}} for row in changed.values()]
    rows.upsert(conn, "return_tracking", RETURN, rows.as_tuples(out, RETURN), key=("return_id",))


PROJECTION = Projection(
    name="returns",
    topics=(topics.events("return"),),
    group="oms-projection-returns",
    # return_reason_rate joins the analytics fact: projections/views/ (a view across
    # projections, made again by every migrate and replay swap).
    migrations=("008_returns.sql",),
    events=frozenset(HANDLERS),
    write=write,
)
