"""Projection "payments": the money of each order, movement by movement.

Reads ``oms.payment.events``; writes ``payment`` (the fold's memory of each order's
tenders and refunds), ``payment_ledger`` (every capture and refund, signed, per
tender), ``refund`` (one row per refund) and so the ``daily_settlement`` view.
Ledger rows are keyed by the event that moved the money, so a replay adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from oms_events import topics
from oms_events.eventlog import EventRecord
from oms_events.projection import rows
from oms_events.projection.rowcache import RowCache
from oms_events.projection.rows import Row
from oms_events.projection.spec import Projection, Record

PAYMENT = (
    "payment_id",
    "order_id",
    "order_no",
    "channel",
    "currency",
    "tenders",
    "refund_parts",
    "version",
    "updated_at",
)
LEDGER = (
    "payment_id",
    "version",
    "tender",
    "order_id",
    "order_no",
    "channel",
    "method",
    "kind",
    "amount",
    "currency",
    "provider_reference",
    "refund_id",
    "occurred_at",
)
REFUND = (
    "refund_id",
    "payment_id",
    "order_id",
    "order_no",
    "reason",
    "amount",
    "currency",
    "status",
    "failure",
    "requested_at",
    "settled_at",
    "version",
)


def requested(row: Row, e: EventRecord) -> None:
    """PaymentRequested: the payment opens with its first tender asked for."""
    p = e.payload
    row.update(
        payment_id=e.originator_id,
        order_id=p["order_id"],
        order_no=p.get("order_no") or "",
        channel=p.get("channel") or "",
        currency=p["amount"]["currency"],
        tenders={
            p["reference"]: {"method": p["method"], "provider_reference": "", "status": "requested"}
        },
        refund_parts={},
    )


def tender_requested(row: Row, e: EventRecord) -> None:
    """TenderRequested: another tender asked for (a balance after a change)."""
    p = e.payload
    row["tenders"][p["reference"]] = {
        "method": p["method"],
        "provider_reference": "",
        "status": "requested",
    }


def captured(row: Row, e: EventRecord) -> None:
    """PaymentCaptured / CodCollected: money in on a tender."""
    p = e.payload
    tender = row["tenders"].setdefault(p["reference"], {"method": "cod", "provider_reference": ""})
    if p.get("method"):
        tender["method"] = p["method"]
    tender["provider_reference"] = p.get("provider_reference") or p.get("tracking_no") or ""
    # A part of a COD tender (one parcel of several) leaves it asking for the rest.
    settled = p.get("settles", True)
    tender["status"] = "captured" if settled else "collected in part"
    for other in (p.get("covers") or ()) if settled else ():  # further COD tenders settled
        row["tenders"].get(other, {})["status"] = "captured"
    _ledger(row, e, p["reference"], "capture", p["amount"]["amount"], tender["provider_reference"])


def voided(row: Row, e: EventRecord) -> None:
    """PaymentVoided: a tender withdrawn before it was paid (its trade is closed)."""
    p = e.payload
    tender = row["tenders"].setdefault(p["reference"], {"method": "", "provider_reference": ""})
    tender.update(status="voided", reason=p["reason"])


def trade_closed(row: Row, e: EventRecord) -> None:
    """TradeClosed: the withdrawn tender's trade can no longer be paid at its provider."""
    row["tenders"].setdefault(e.payload["reference"], {})["trade_closed"] = True


def refund_requested(row: Row, e: EventRecord) -> None:
    """RefundRequested: the refund's shares are held on their tenders."""
    p = e.payload
    parts = {part["tender"]: part["amount"]["amount"] for part in p["parts"]}
    row["refund_parts"][p["refund_id"]] = parts
    _refund(row, e, p["refund_id"], reason=p["reason"], amount=sum(parts.values()))


def refunded(row: Row, e: EventRecord) -> None:
    """PaymentRefunded: the providers took the refund; money out of each tender."""
    p = e.payload
    refs = {r["tender"]: r["provider_refund_id"] for r in p.get("provider_refs") or ()}
    parts = row["refund_parts"].get(p["refund_id"], {})
    for tender, amount in sorted(parts.items()):
        _ledger(row, e, tender, "refund", -amount, refs.get(tender, ""), p["refund_id"])
    _refund(row, e, p["refund_id"], status="succeeded", settled_at=e.timestamp)


def refund_failed(row: Row, e: EventRecord) -> None:
    """RefundFailed: nothing moved; the refund says why."""
    p = e.payload
    _refund(row, e, p["refund_id"], status="failed", failure=p["failure"], settled_at=e.timestamp)


def _ledger(
    row: Row,
    e: EventRecord,
    tender: str,
    kind: str,
    amount: int,
    reference: str,
    refund_id: str | None = None,
) -> None:
    row.setdefault("_ledger", []).append(
        {
            "payment_id": e.originator_id,
            "version": e.originator_version,
            "tender": tender,
            "order_id": row["order_id"],
            "order_no": row["order_no"],
            "channel": row["channel"],
            "method": row["tenders"].get(tender, {}).get("method", ""),
            "kind": kind,
            "amount": amount,
            "currency": row["currency"],
            "provider_reference": reference,
            "refund_id": refund_id,
            "occurred_at": e.timestamp,
        }
    )


def _refund(row: Row, e: EventRecord, refund_id: str, **fields: Any) -> None:
    # One refund row per id, its fields as known so far (the row in the database may
    # hold the request, when the answer comes in a later batch: the upsert keeps it).
    refunds = row.setdefault("_refunds", {})
    refund = refunds.setdefault(refund_id, {"refund_id": refund_id, "status": "requested"})
    refund.update(fields, payment_id=e.originator_id, version=e.originator_version)
    if "reason" in fields:
        refund.update(
            order_id=row["order_id"],
            order_no=row["order_no"],
            currency=row["currency"],
            requested_at=e.timestamp,
        )


HANDLERS = {
    "PaymentRequested": requested,
    "TenderRequested": tender_requested,
    "PaymentCaptured": captured,
    "CodCollected": captured,
    "PaymentVoided": voided,
    "TradeClosed": trade_closed,
    "RefundRequested": refund_requested,
    "PaymentRefunded": refunded,
    "RefundFailed": refund_failed,
}


def _json(row: Row) -> Row:
    return {**row, "tenders": Jsonb(row["tenders"]), "refund_parts": Jsonb(row["refund_parts"])}


def write(conn: psycopg.Connection[Any], records: Sequence[Record], cache: RowCache) -> None:
    """Fold a batch into the payments it touches; append their ledger rows and bring
    their refunds up to date, all from events that passed the version guard."""
    events = [r for r in records if isinstance(r, EventRecord)]
    state = cache.rows(
        "payment",
        {e.originator_id for e in events},
        lambda ids: rows.load(conn, "payment", "payment_id", ids),
    )
    changed = rows.fold(events, state, HANDLERS, creators={"PaymentRequested"})
    ledger = [entry for row in changed.values() for entry in row.pop("_ledger", [])]
    refunds = [r for row in changed.values() for r in row.pop("_refunds", {}).values()]
    cache.keep("payment", changed)
    rows.upsert(
        conn,
        "payment",
        PAYMENT,
        rows.as_tuples(map(_json, changed.values()), PAYMENT),
        key=("payment_id",),
    )
    rows.insert_new(conn, "payment_ledger", LEDGER, rows.as_tuples(ledger, LEDGER))
    requests = [r for r in refunds if "reason" in r]
    answers = [r for r in refunds if "reason" not in r]
    rows.upsert(conn, "refund", REFUND, rows.as_tuples(requests, REFUND), key=("refund_id",))
    # An answer to a refund requested in an earlier batch: only its outcome changes.
    for r in answers:
        conn.execute(
            "UPDATE refund SET status = %s, failure = %s, settled_at = %s, version = %s "
            "WHERE refund_id = %s AND version < %s",
            (
                r["status"],
                r.get("failure"),
                r["settled_at"],
                r["version"],
                r["refund_id"],
                r["version"],
            ),
        )


PROJECTION = Projection(
    name="payments",
    topics=(topics.events("payment"),),
    group="oms-projection-payments",
    migrations=("006_payments.sql", "020_payments_business_days.sql"),
    events=frozenset(HANDLERS),
    write=write,
)
