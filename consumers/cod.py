"""Projection "cod": cash on delivery per order and waybill, from the COD tender asked
for to the courier's remittance.

Reads ``oms.payment.events``; writes ``cod_outstanding`` for each order whose payment
asked for a COD tender: one row per waybill collected (expected for its parcel,
collected when, the variance at the door, remitted: amount, fee, date, from ``oms cod
reconcile``, and a status), and one row without a waybill (part '') for what is still
asked for, awaiting delivery or voided; an order shipped in several parcels has a row
per parcel. Payments that never ask for cash on delivery leave no row.
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
    "part",
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


PENDING = ""  # the part still asked for, not collected on any waybill yet
_BASE = ("payment_id", "order_id", "order_no", "channel", "currency")


def requested(row: Row, e: EventRecord) -> None:
    """PaymentRequested: the payment opens; a COD one is awaiting delivery."""
    p = e.payload
    cod = p["method"] in HANDOVER
    row.update(
        payment_id=e.originator_id,
        order_id=p["order_id"],
        order_no=p.get("order_no") or "",
        channel=p.get("channel") or "",
        currency=p["amount"]["currency"],
        _cod=cod,
        _remaining=p["amount"]["amount"] if cod else 0,
        _parts={},
    )
    if cod:
        row["_parts"][PENDING] = {
            "expected_amount": row["_remaining"],
            "status": "awaiting_delivery",
        }


def tender_requested(row: Row, e: EventRecord) -> None:
    """TenderRequested of cash on delivery: the courier must collect more."""
    p = e.payload
    if p["method"] in HANDOVER:
        row["_remaining"] += p["amount"]["amount"]
        pending = row["_parts"].setdefault(PENDING, {"status": "awaiting_delivery"})
        pending["expected_amount"] = row["_remaining"]
        row["_cod"] = True


def collected(row: Row, e: EventRecord) -> None:
    """CodCollected: the courier has the cash of one waybill; awaiting its remittance.
    A part of the COD tenders (an order in several parcels) leaves the rest asked for."""
    p = e.payload
    amount = p["amount"]["amount"]
    pending = row["_parts"].pop(PENDING, None) or {}
    expected = p["expected"]["amount"] if p.get("expected") else row["_remaining"]
    row["_parts"][p.get("tracking_no") or PENDING] = {
        "carrier": p.get("carrier") or None,
        "tracking_no": p.get("tracking_no") or None,
        "collected_amount": amount,
        "collected_at": p.get("collected_at") or e.timestamp,
        "collection_variance": amount - expected,
        "expected_amount": expected,
        "status": "collected",
    }
    # Records of earlier versions have no ``settles``: each settled what it collected on.
    row["_remaining"] = 0 if p.get("settles", True) else max(0, row["_remaining"] - amount)
    if row["_remaining"]:
        row["_parts"][PENDING] = {
            "expected_amount": row["_remaining"],
            "status": "voided" if pending.get("status") == "voided" else "awaiting_delivery",
        }
    row["_cod"] = True


def remitted(row: Row, e: EventRecord) -> None:
    """CodRemitted: the courier's file paid the waybill over (matched, short or over)."""
    p = e.payload
    part = row["_parts"].get(p["tracking_no"])
    if part is not None:
        part.update(
            remitted_amount=p["amount"]["amount"],
            fee=p["fee"]["amount"],
            remitted_on=date.fromisoformat(p["remitted_on"]) if p["remitted_on"] else None,
            batch=p["batch"],
            status={"matched": "remitted"}.get(p["outcome"], p["outcome"]),
        )


def missing(row: Row, e: EventRecord) -> None:
    """CodRemittanceMissing: a file that should list the waybill does not."""
    part = row["_parts"].get(e.payload["tracking_no"])
    if part is not None:
        part["missing_in"] = e.payload["batch"]
        if part["status"] == "collected":
            part["status"] = "missing"


def voided(row: Row, e: EventRecord) -> None:
    """PaymentVoided: the order no longer wants the cash still asked for (cancelled
    before that parcel was delivered)."""
    pending = row["_parts"].get(PENDING)
    if pending is not None and pending["status"] == "awaiting_delivery":
        pending["status"] = "voided"


def table_rows(row: Row) -> list[Row]:
    """The ``cod_outstanding`` rows of one payment's state: one per waybill collected,
    and one (part '') for what is still asked for."""
    base = {c: row.get(c) for c in (*_BASE, "version", "updated_at")}
    return [{**part, **base, "part": key} for key, part in row["_parts"].items()]


def _state(found: Sequence[Row]) -> Row:
    # A payment's state from its table rows.
    first = found[0]
    parts = {
        r["part"]: {c: r[c] for c in COD if c not in (*_BASE, "version", "updated_at")}
        for r in found
    }
    pending = parts.get(PENDING)
    return {
        **{c: first[c] for c in _BASE},
        "version": max(r["version"] for r in found),
        "updated_at": max(r["updated_at"] for r in found),
        "_cod": True,
        "_parts": parts,
        "_remaining": pending["expected_amount"]
        if pending and pending["status"] != "collected"
        else 0,
    }


HANDLERS = {
    "PaymentRequested": requested,
    "TenderRequested": tender_requested,
    "CodCollected": collected,
    "CodRemitted": remitted,
    "CodRemittanceMissing": missing,
    "PaymentVoided": voided,
}


def write(conn: psycopg.Connection[Any], records: Sequence[Record], cache: RowCache) -> None:
    """Fold a batch into the COD payments it touches and write their rows: upsert one
    per waybill and the one still asked for, delete the latter once nothing is."""
    events = [r for r in records if isinstance(r, EventRecord)]
    state = cache.rows(
        "cod",
        {e.originator_id for e in events},
        lambda ids: {
            k: _state(v)
            for k, v in rows.load_grouped(conn, "cod_outstanding", "payment_id", ids).items()
            if v
        },
    )
    changed = rows.fold(events, state, HANDLERS, creators={"PaymentRequested"})
    cache.keep("cod", changed)
    cod = [row for row in changed.values() if row.get("_cod")]
    written = [r for row in cod for r in table_rows(row)]
    rows.upsert(
        conn, "cod_outstanding", COD, rows.as_tuples(written, COD), key=("payment_id", "part")
    )
    settled = [row["payment_id"] for row in cod if PENDING not in row["_parts"]]
    if settled:
        conn.execute(
            "DELETE FROM cod_outstanding WHERE payment_id = ANY(%s) AND part = ''", (settled,)
        )


PROJECTION = Projection(
    name="cod",
    topics=(topics.events("payment"),),
    group="oms-projection-cod",
    migrations=("013_cod.sql", "021_cod_waybills.sql"),
    events=frozenset(HANDLERS),
    write=write,
)
