"""Projection "notifications": which messages an order's events call for, planned once.

Reads ``oms.order.events``, ``oms.shipment.events`` and ``oms.return.events``; writes
who to tell (``notify_order``), which order a shipment or return belongs to
(``notify_parcel``, ``notify_return``), one ``notify_step`` per customer-facing event and,
once the step's order is known, one ``notification`` row per (event, channel,
recipient). The runner commits them with the offsets, so a SIGKILL repeats no plan and
loses none; ``oms notify run`` runs this projection and sends the rows
(``oms_events.notifications.dispatcher``).

The payment events are not read: the order records every refund paid out
(``RefundRecorded``, carrying the amount) and is the one aggregate that knows whom to
tell, so "refund issued" comes from it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from oms_events import topics
from oms_events.eventlog import EventRecord
from oms_events.notifications.channels import token
from oms_events.notifications.feedback import Shipped, shipping_message
from oms_events.notifications.templates import Step, render
from oms_events.privacy.seal import REDACTED
from oms_events.projection.rowcache import RowCache
from oms_events.projection.spec import Projection, Record

# A step older than this when first planned is history (the notifier's first start on a
# shop that has run for a while): it is recorded, never sent.
TOO_OLD = timedelta(days=3)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

# event name -> (step, facts taken from the payload)
STEPS: Mapping[str, tuple[Step, Callable[[Mapping[str, Any]], dict[str, Any]]]] = {
    "OrderConfirmed": (Step.CONFIRMED, lambda p: {}),
    "ShipmentShipped": (
        Step.SHIPPED,
        lambda p: {"carrier": p["carrier"], "tracking_no": p["tracking_no"]},
    ),
    "ShipmentOutForDelivery": (
        Step.OUT_FOR_DELIVERY,
        lambda p: {"eta": _iso(p.get("eta")), "location": p.get("location")},
    ),
    "ShipmentDelivered": (Step.DELIVERED, lambda p: {"signer": p.get("signer")}),
    "DeliveryFailed": (Step.DELAYED, lambda p: {"reason": p["reason"]}),
    "RefundRecorded": (
        Step.REFUND_ISSUED,
        lambda p: {"refund_id": p["refund_id"], "amount": dict(p["amount"])},
    ),
    "ReturnReceived": (Step.RETURN_RECEIVED, lambda p: {"location": p.get("location")}),
}
REMEMBERED = frozenset({"OrderPlaced", "ShipmentCreated", "ReturnRequested"})


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def contact(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Who OrderPlaced says to tell, and in which language.

    A masked receiver (platforms send 138****1234) has no phone to text; the account is
    an email address for web shop orders; a delivery in mainland China reads Chinese.
    """
    customer = payload["customer"]
    account = customer.get("account")
    masked = payload.get("receiver_masked", False)
    return {
        "customer_name": customer["name"],
        # A forgotten customer's phone reads [forgotten] (oms customer forget): no one to text.
        "phone": None if masked or customer.get("phone") == REDACTED else customer.get("phone"),
        "email": account if account and _EMAIL.fullmatch(account) else None,
        "account": account,
        "locale": "zh" if payload["address"]["country"] == "CN" else "en",
    }


def write(conn: psycopg.Connection[Any], records: Sequence[Record], cache: RowCache) -> None:
    """Apply one batch: remember orders, shipments and returns, record the steps, then
    plan the messages of every step whose order is now known."""
    for r in records:
        if isinstance(r, EventRecord):
            _apply(conn, r)
    plan(conn)


def _apply(conn: psycopg.Connection[Any], e: EventRecord) -> None:
    p = e.payload
    if e.name == "OrderPlaced":
        c = contact(p)
        conn.execute(
            "INSERT INTO notify_order (order_id, order_no, channel, external_id, customer_name, "
            "phone, email, account, locale, placed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, "
            "%s, %s) ON CONFLICT (order_id) DO NOTHING",
            (
                e.originator_id,
                p["order_no"],
                p["channel"],
                p["external_id"],
                c["customer_name"],
                c["phone"],
                c["email"],
                c["account"],
                c["locale"],
                p["placed_at"],
            ),
        )
        return
    if e.name == "ShipmentCreated":
        conn.execute(
            "INSERT INTO notify_parcel (shipment_id, order_id) VALUES (%s, %s) "
            "ON CONFLICT (shipment_id) DO NOTHING",
            (e.originator_id, p["order_id"]),
        )
        return
    if e.name == "ReturnRequested":
        conn.execute(
            "INSERT INTO notify_return (return_id, order_id, return_no) VALUES (%s, %s, %s) "
            "ON CONFLICT (return_id) DO NOTHING",
            (e.originator_id, p["order_id"], p["return_no"]),
        )
        return
    step, facts = STEPS[e.name]
    if e.name == "ShipmentShipped":
        # The parcel's waybill, for the later steps of the same shipment.
        conn.execute(
            "UPDATE notify_parcel SET carrier = %s, tracking_no = %s WHERE shipment_id = %s",
            (p["carrier"], p["tracking_no"], e.originator_id),
        )
    ids: dict[str, Any] = {"order_id": None, "shipment_id": None, "return_id": None}
    ids[
        {"order": "order_id", "shipment": "shipment_id", "return": "return_id"}[e.aggregate_type]
    ] = e.originator_id
    conn.execute(
        "INSERT INTO notify_step (event_key, step, order_id, shipment_id, return_id, facts, "
        "source, occurred_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (event_key) DO NOTHING",
        (
            f"{e.originator_id}/{e.originator_version}",
            step.value,
            ids["order_id"],
            ids["shipment_id"],
            ids["return_id"],
            Jsonb(facts(p)),
            f"{e.topic}/{e.partition}/{e.offset}",
            e.timestamp,
        ),
    )


_READY = """
SELECT s.event_key, s.step, s.facts, s.occurred_at, o.order_id, o.order_no, o.channel,
       o.external_id, o.customer_name, o.phone, o.email, o.locale,
       par.carrier, par.tracking_no, r.return_no
FROM notify_step s
LEFT JOIN notify_parcel par ON par.shipment_id = s.shipment_id
LEFT JOIN notify_return r ON r.return_id = s.return_id
JOIN notify_order o ON o.order_id = coalesce(s.order_id, par.order_id, r.order_id)
WHERE NOT s.planned
ORDER BY s.occurred_at
"""


def plan(conn: psycopg.Connection[Any]) -> None:
    """Turn every unplanned step whose order is known into its notification rows."""
    ready = conn.execute(_READY).fetchall()
    if not ready:
        return
    subscribers = [r[0] for r in conn.execute("SELECT subscriber_id FROM notify_subscriber")]
    now = datetime.now(UTC)
    rows = [
        row for step in ready if now - step[3] <= TOO_OLD for row in messages(step, subscribers)
    ]
    if rows:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO notification (key, event_key, step, order_id, channel, recipient, "
                "locale, subject, body) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (key) DO NOTHING",
                rows,
            )
    conn.execute(
        "UPDATE notify_step SET planned = true WHERE event_key = ANY(%s)",
        ([r[0] for r in ready],),
    )


def messages(ready: Sequence[Any], subscribers: Sequence[str]) -> list[tuple[Any, ...]]:
    """The notification rows of one step (a row of ``_READY``): mail and SMS to the
    customer where we have the address, a webhook per subscriber, and the ship call to
    the sales channel for a shipped parcel."""
    (event_key, step_name, stored, occurred_at, order_id, order_no, channel, external_id,
     name, phone, email, locale, carrier, tracking_no, return_no) = ready  # fmt: skip
    step = Step(step_name)
    facts = {
        "order_no": order_no,
        "name": name,
        "carrier": carrier,
        "tracking_no": tracking_no,
        "return_no": return_no,
        **{k: v for k, v in stored.items() if v is not None},
    }
    message = render(step, locale, facts)
    out: list[tuple[Any, ...]] = []

    def add(kind: str, recipient: str, subject: str, body: str) -> None:
        key = f"{event_key}:{kind}:{recipient}"
        out.append((key, event_key, step.value, order_id, kind, recipient, locale, subject, body))

    if email:
        add("email", email, message.subject, message.body)
    if phone:
        add("sms", phone, "", message.sms)
    hook = {
        "step": step.value,
        "order_id": str(order_id),
        "order_no": order_no,
        "channel": channel,
        "occurred_at": occurred_at.isoformat(),
        # No name, phone or address: a subscriber learns the order's step, not the person.
        "facts": {k: v for k, v in facts.items() if k != "name"},
    }
    for subscriber in subscribers:
        body = {**hook, "key": token(f"{event_key}:webhook:{subscriber}")}
        add("webhook", subscriber, "", json.dumps(body, ensure_ascii=False, default=str))
    if step is Step.SHIPPED:
        shipped = Shipped(external_id, str(facts["carrier"]), str(facts["tracking_no"]))
        feed = shipping_message(channel, shipped)
        if feed is not None:
            add("feed", channel, "", json.dumps(feed, ensure_ascii=False))
    return out


PROJECTION = Projection(
    name="notifications",
    topics=(topics.events("order"), topics.events("shipment"), topics.events("return")),
    group="oms-notifier",
    migrations=("030_notifications.sql",),
    events=frozenset(STEPS) | REMEMBERED,
    write=write,
    runs_alone=True,
)
