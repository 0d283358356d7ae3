"""Orders as customer service looks them up: search, and one order with its timeline,
shipments, payments and returns (the tracking, payments and returns projections)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from oms_events.api.access import allow
from oms_events.api.database import Database, Row
from oms_events.api.masking import mask_phone
from oms_events.api.roles import Permission, Role
from oms_events.api.services import Services, services
from oms_events.api.users import User

router = APIRouter(tags=["orders"])
_READ = Depends(allow(Permission.orders_read))


class OrderSummary(BaseModel):
    """One order of a search."""

    order_id: str
    order_no: str
    channel: str
    status: str
    customer: str = Field(description="The customer's name")
    phone_masked: str | None = Field(description="The phone with its middle digits hidden")
    total_minor: int = Field(description="Order total in minor units of the currency")
    currency: str
    placed_at: datetime


class OrderList(BaseModel):
    """Orders found, newest first."""

    orders: list[OrderSummary]


class Line(BaseModel):
    """One order line."""

    line_no: int
    sku: str
    quantity: int
    unit_price_minor: int
    net_minor: int
    status: str
    location: str | None


class OrderDetail(OrderSummary):
    """An order with its lines and money."""

    phone: str | None = Field(None, description="The full phone: admin and customer service only")
    paid_minor: int
    refunded_minor: int
    payment_method: str
    hold_reason: str | None
    lines: list[Line]


class TimelineEntry(BaseModel):
    """Something that happened to the order (its aggregates' events)."""

    at: datetime
    event: str
    aggregate: str
    detail: dict[str, Any]


class OrderView(BaseModel):
    """GET /orders/{order_id}."""

    order: OrderDetail
    timeline: list[TimelineEntry]
    shipments: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    returns: list[dict[str, Any]]


_SUMMARY = (
    "SELECT order_id::text, order_no, channel, status, customer_name AS customer, phone, "
    "order_total AS total_minor, currency, placed_at FROM order_tracking"
)


def _summary(row: Row) -> OrderSummary:
    return OrderSummary(
        **{k: v for k, v in row.items() if k != "phone"}, phone_masked=mask_phone(row["phone"])
    )


@router.get("/orders", response_model=OrderList, summary="Search orders")
def search(
    api: Annotated[Services, Depends(services)],
    _: Annotated[User, _READ],
    q: Annotated[
        str | None, Query(description="Order number, channel order id or customer name (part of)")
    ] = None,
    phone: Annotated[
        str | None,
        Query(description="The customer's phone: E.164 (+8613800138000) or its national digits"),
    ] = None,
    customer: Annotated[str | None, Query(description="Customer account or exact name")] = None,
    status: Annotated[
        str | None, Query(description="e.g. confirmed, allocated, shipped, cancelled")
    ] = None,
    channel: Annotated[str | None, Query(description="web, tmall, jd, pos, pdd, douyin")] = None,
    since: Annotated[datetime | None, Query(description="Placed at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="Placed before (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> OrderList:
    """Orders matching every filter given, newest first."""
    where: list[str] = []
    args: dict[str, Any] = {}
    if q:
        where.append(
            "(order_no ILIKE %(q)s OR external_id ILIKE %(q)s OR customer_name ILIKE %(q)s)"
        )
        args["q"] = f"%{q}%"
    if phone:
        digits = "".join(c for c in phone if c.isdigit())
        # Phones are compared by their digits, one ending the other: the national
        # number finds +86…, and +86… finds an order stored with the national number.
        where.append(
            "(phone = %(phone)s OR (length(%(digits)s) >= 6 AND ("
            "regexp_replace(phone, '[^0-9]', '', 'g') LIKE '%%' || %(digits)s OR "
            "%(digits)s LIKE '%%' || nullif(regexp_replace(phone, '[^0-9]', '', 'g'), ''))))"
        )
        args["phone"] = phone.strip()
        args["digits"] = digits
    for name, value, clause in (
        ("customer", customer, "(customer_account = %(customer)s OR customer_name = %(customer)s)"),
        ("status", status, "status = %(status)s"),
        ("channel", channel, "channel = %(channel)s"),
        ("since", since, "placed_at >= %(since)s"),
        ("until", until, "placed_at < %(until)s"),
    ):
        if value is not None and value != "":
            where.append(clause)
            args[name] = value
    query = _SUMMARY + (" WHERE " + " AND ".join(where) if where else "")
    query += " ORDER BY placed_at DESC, order_no LIMIT %(limit)s"
    args["limit"] = limit
    return OrderList(orders=[_summary(r) for r in api.db.rows(query, **args)])


def find(db: Database, order_ref: str) -> Row:
    """The tracking row of an order by its id (UUID) or its number; 404 if none."""
    try:
        row = db.row("SELECT * FROM order_tracking WHERE order_id = %s", UUID(order_ref))
    except ValueError:
        row = db.row("SELECT * FROM order_tracking WHERE order_no = %s", order_ref)
    if row is None:
        raise HTTPException(404, f"no order {order_ref} in the tracking projection")
    return row


@router.get("/orders/{order_id}", response_model=OrderView, summary="One order in full")
def detail(
    order_id: str,
    api: Annotated[Services, Depends(services)],
    user: Annotated[User, _READ],
) -> OrderView:
    """The order (by id or number) with lines, timeline, shipments, payments, returns."""
    o = find(api.db, order_id)
    oid = o["order_id"]
    lines = api.db.rows("SELECT * FROM order_line WHERE order_id = %s ORDER BY line_no", oid)
    full_phone = any(r in (Role.admin, Role.customer_service) for r in user.roles)
    order = OrderDetail(
        order_id=str(oid),
        order_no=o["order_no"],
        channel=o["channel"],
        status=o["status"],
        customer=o["customer_name"],
        phone_masked=mask_phone(o["phone"]),
        phone=o["phone"] if full_phone else None,
        total_minor=o["order_total"],
        currency=o["currency"],
        placed_at=o["placed_at"],
        paid_minor=o["amount_paid"],
        refunded_minor=o["amount_refunded"],
        payment_method=o["payment_method"],
        hold_reason=o["hold_reason"],
        lines=[
            Line(
                line_no=ln["line_no"],
                sku=ln["sku"],
                quantity=ln["quantity"],
                unit_price_minor=ln["unit_price"],
                net_minor=ln["net_amount"],
                status=ln["status"],
                location=ln["location"],
            )
            for ln in lines
        ],
    )
    timeline = api.db.rows(
        "SELECT at, event, aggregate, detail FROM order_timeline WHERE order_id = %s "
        "ORDER BY at, aggregate, version",
        oid,
    )
    shipments = api.db.rows(
        "SELECT shipment_id::text, location, status, carrier, tracking_no, created_at, "
        "shipped_at, delivered_at, failed_attempts, last_failure, cancelled_at "
        "FROM shipment_tracking WHERE order_id = %s ORDER BY created_at",
        oid,
    )
    payments = api.db.rows(
        "SELECT payment_id::text, tender, method, kind, amount AS amount_minor, currency, "
        "provider_reference, refund_id, occurred_at FROM payment_ledger WHERE order_id = %s "
        "ORDER BY occurred_at, version",
        oid,
    )
    returns = api.db.rows(
        "SELECT return_id::text, return_no, status, reason, refund_only, lines, "
        "worth AS worth_minor, currency, requested_at, carrier, tracking_no, received_at, "
        "refund_amount AS refund_minor, refunded_at, closed_at FROM return_tracking "
        "WHERE order_id = %s ORDER BY requested_at",
        oid,
    )
    return OrderView(
        order=order,
        timeline=[TimelineEntry(**t) for t in timeline],
        shipments=shipments,
        payments=payments,
        returns=returns,
    )


class ReturnList(BaseModel):
    """Returns found, newest first."""

    returns: list[dict[str, Any]]


@router.get("/returns", response_model=ReturnList, summary="Search returns (RMAs)")
def returns(
    api: Annotated[Services, Depends(services)],
    _: Annotated[User, _READ],
    status: Annotated[
        str | None, Query(description="e.g. requested, approved, shipped, received, closed")
    ] = None,
    order_id: Annotated[str | None, Query(description="Only this order's (its id)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ReturnList:
    """Returns with their order number, newest first."""
    rows = api.db.rows(
        "SELECT r.return_id::text, r.return_no, r.order_id::text, t.order_no, r.channel, "
        "r.status, r.reason, r.refund_only, r.lines, r.worth AS worth_minor, r.currency, "
        "r.requested_at, r.carrier, r.tracking_no, r.received_at, "
        "r.refund_amount AS refund_minor, r.refunded_at, r.closed_at "
        "FROM return_tracking r LEFT JOIN order_tracking t USING (order_id) "
        "WHERE (%(status)s::text IS NULL OR r.status = %(status)s) "
        "AND (%(order)s::text IS NULL OR r.order_id::text = %(order)s) "
        "ORDER BY r.requested_at DESC LIMIT %(limit)s",
        status=status,
        order=order_id,
        limit=limit,
    )
    return ReturnList(returns=rows)
