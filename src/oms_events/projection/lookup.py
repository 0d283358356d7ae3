"""An order and its timeline, read from the tracking projection (``oms order show``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

Row = dict[str, Any]


@dataclass
class OrderView:
    """One order as customer service sees it."""

    order: Row
    lines: list[Row] = field(default_factory=list)
    shipments: list[Row] = field(default_factory=list)
    timeline: list[Row] = field(default_factory=list)


def find_orders(
    conn: psycopg.Connection[Any],
    schema: str,
    *,
    order_no: str | None = None,
    phone: str | None = None,
    customer: str | None = None,
    limit: int = 20,
) -> list[OrderView]:
    """Orders by number, phone, or customer (account or exact name), newest first."""
    if order_no:
        where, arg = sql.SQL("order_no = %s"), order_no
    elif phone:
        where, arg = sql.SQL("phone = %s"), phone
    elif customer:
        where, arg = sql.SQL("(customer_account = %(v)s OR customer_name = %(v)s)"), customer
    else:
        raise ValueError("give an order number, a phone or a customer")
    s = sql.Identifier(schema)
    with conn.cursor(row_factory=dict_row) as cur:
        params: Any = {"v": arg} if customer and not (order_no or phone) else (arg,)
        cur.execute(
            sql.SQL(
                "SELECT * FROM {}.order_tracking WHERE {} ORDER BY placed_at DESC LIMIT {}"
            ).format(s, where, sql.Literal(limit)),
            params,
        )
        views = [OrderView(order) for order in cur.fetchall()]
        for view in views:
            order_id = view.order["order_id"]
            view.lines = cur.execute(
                sql.SQL("SELECT * FROM {}.order_line WHERE order_id = %s ORDER BY line_no").format(
                    s
                ),
                (order_id,),
            ).fetchall()
            view.shipments = cur.execute(
                sql.SQL(
                    "SELECT * FROM {}.shipment_tracking WHERE order_id = %s ORDER BY created_at"
                ).format(s),
                (order_id,),
            ).fetchall()
            view.timeline = cur.execute(
                sql.SQL(
                    "SELECT * FROM {}.order_timeline WHERE order_id = %s "
                    "ORDER BY at, aggregate, version"
                ).format(s),
                (order_id,),
            ).fetchall()
    return views
