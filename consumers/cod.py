"""Projection "cod": cash on delivery per order, from the COD tender asked for to the
courier's remittance.

Reads ``oms.payment.events``; writes ``cod_outstanding``, one row per order whose
payment asked for a COD tender: expected, collected (on which waybill, when, the
variance at the door), remitted (amount, fee, date, from ``oms cod reconcile``) and a
status. Payments that never ask for cash on delivery leave no row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import psycopg

from oms_events import topics
from oms_events.eventlog import EventRecord
from oms_events.projection import rows
from oms_events.projection.rowcache import RowCache
from oms_events.projection.rows import Row
from oms_events.projection.spec import Projection, Record

COD = (
    "payment_id",
    "order_id",
    "order_no",
    "channel",
    "currency",
    "expected_amount",
    "carrier",
    "tracking_no",
    "collected_amount",
    "collected_at",
    "collection_variance",
    "remitted_amount",
    "fee",
    "remitted_on",
    "batch",
    "missing_in",
    "status",
    "version",
    "updated_at",
)
HANDOVER = {"cod"}  # tenders a courier collects


def requested(row: Row, e: EventRecord) -> None:
    """PaymentRequested: the payment opens; a COD one is awaiting delivery."""
    p = e.payload
    row.update(
        payment_id=e.originator_id,
        order_id=p["order_id"],
        order_no=p.get("order_no") or "",
        channel=p.get("channel") or "",
        currency=p["amount"]["currency"],
        expected_amount=p["amount"]["amount"] if p["method"] in HANDOVER else 0,
        status="awaiting_delivery",
        _cod=p["method"] in HANDOVER,
    )


def tender_requested(row: Row, e: EventRecord) -> None:
    """TenderRequested of cash on delivery: the courier must collect more."""
    p = e.payload
    if p["method"] in HANDOVER:
        row["expected_amount"] = (row.get("expected_amount") or 0) + p["amount"]["amount"]
        row["_cod"] = True


def collected(row: Row, e: EventRecord) -> None:
    """CodCollected: the courier has the cash; awaiting its remittance."""
    p = e.payload
    amount = p["amount"]["amount"]
    expected = p["expected"]["amount"] if p.get("expected") else row["expected_amount"]
    row.update(
        carrier=p.get("carrier") or None,
        tracking_no=p.get("tracking_no") or None,
        collected_amount=amount,
        collected_at=p.get("collected_at") or e.timestamp,
        collection_variance=amount - expected,
        expected_amount=expected,
        status="collected",
        _cod=True,
    )


def remitted(row: Row, e: EventRecord) -> None:
    """CodRemitted: the courier's file paid it over (matched, short or over)."""
    p = e.payload
    row.update(
        remitted_amount=p["amount"]["amount"],
        fee=p["fee"]["amount"],
        remitted_on=date.fromisoformat(p["remitted_on"]) if p["remitted_on"] else None,
        batch=p["batch"],
        status={"matched": "remitted"}.get(p["outcome"], p["outcome"]),
    )


def missing(row: Row, e: EventRecord) -> None:
    """CodRemittanceMissing: a file that should list the waybill does not."""
    row["missing_in"] = e.payload["batch"]
    if row["status"] == "collected":
        row["status"] = "missing"


def voided(row: Row, e: EventRecord) -> None:
    """PaymentVoided: the order no longer wants the cash (cancelled before delivery)."""
    if row["status"] == "awaiting_delivery":
        row["status"] = "voided"


HANDLERS = {
    "PaymentRequested": requested,
    "TenderRequested": tender_requested,
    "CodCollected": collected,
    "CodRemitted": remitted,
    "CodRemittanceMissing": missing,
    "PaymentVoided": voided,
}


def write(conn: psycopg.Connection[Any], records: Sequence[Record], cache: RowCache) -> None:
    """Fold a batch into the COD rows it touches and upsert those of COD payments."""
    events = [r for r in records if isinstance(r, EventRecord)]
    state = cache.rows(
        "cod",
        {e.originator_id for e in events},
        lambda ids: {
            k: {**v, "_cod": True}
            for k, v in rows.load(conn, "cod_outstanding", "payment_id", ids).items()
        },
    )
    changed = rows.fold(events, state, HANDLERS, creators={"PaymentRequested"})
    cache.keep("cod", changed)
    cod = [row for row in changed.values() if row.get("_cod")]
    rows.upsert(conn, "cod_outstanding", COD, rows.as_tuples(cod, COD), key=("payment_id",))


PROJECTION = Projection(
    name="cod",
    topics=(topics.events("payment"),),
    group="oms-projection-cod",
    migrations=("013_cod.sql",),
    events=frozenset(HANDLERS),
    write=write,
)
