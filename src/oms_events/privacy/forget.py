"""``oms customer forget``: delete a customer's order keys and redact their rows.

In one PostgreSQL transaction:

1. the orders linked to the customer (HMAC of the phone or account given, and of every
   other phone or account those orders were placed with) lose their keys, so every
   token of theirs on Kafka reads ``[forgotten]`` from now on (after the key cache's
   TTL in running processes);
2. every projection row of those orders that holds a name, phone, account, street
   address or signer is redacted, as is the personal part of each event copied into
   ``order_timeline.detail``;
3. the links from customers to those orders are deleted, and a ``forgotten_customer``
   row records that it happened, when, and how much (the HMAC, never the phone).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from oms_events.avro.catalog import default_catalog
from oms_events.privacy.keystore import Sealer, ensure_schema, master_key, master_key_path
from oms_events.privacy.marks import catalog_marks, rewrite, strings
from oms_events.privacy.seal import REDACTED
from oms_events.settings import Settings

# Projection columns holding personal data, by table (each has order_id), and what they
# become: the redaction, or NULL where a value would be used to reach the customer (the
# notifier must not text "[forgotten]").
COLUMNS: dict[str, dict[str, str | None]] = {
    "order_tracking": {"customer_name": REDACTED, "phone": REDACTED, "customer_account": REDACTED},
    "delivery_address": {"line1": REDACTED, "postcode": REDACTED},
    "notify_order": {"customer_name": REDACTED, "phone": None, "email": None, "account": None},
    "notification": {"recipient": REDACTED, "body": REDACTED},
    "shipment_tracking": {"signer": REDACTED},
    "shipment_scan": {"signer": REDACTED},
}


@dataclass(frozen=True)
class Forgotten:
    """What one ``forget`` did."""

    orders: int
    rows: int
    tables: dict[str, int]


def _orders(conn: psycopg.Connection[Any], schema: str, identity: bytes) -> list[UUID]:
    # The orders of this identity, and those of every other identity they carry (the
    # account of a customer forgotten by phone): one step, enough for phone + account.
    rows = conn.execute(
        sql.SQL(
            """
            SELECT DISTINCT o.order_id FROM {s}.customer_order o
            WHERE o.identity IN (
                SELECT other.identity FROM {s}.customer_order mine
                JOIN {s}.customer_order other USING (order_id)
                WHERE mine.identity = %s
            ) OR o.identity = %s
            """
        ).format(s=sql.Identifier(schema)),
        (identity, identity),
    ).fetchall()
    return [r[0] for r in rows]


def _existing(conn: psycopg.Connection[Any], schema: str) -> dict[str, set[str]]:
    rows = conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s",
        (schema,),
    ).fetchall()
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    return found


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _redact_timeline(conn: psycopg.Connection[Any], schema: str, orders: list[UUID]) -> int:
    # The tracking projection keeps each event's payload: redact the fields its schema
    # marks personal, as a replay would now show them.
    marks = catalog_marks(default_catalog())
    table = sql.SQL("{}.order_timeline").format(sql.Identifier(schema))
    rows = conn.execute(
        sql.SQL(
            "SELECT aggregate_id, version, aggregate, event, detail FROM {} "
            "WHERE order_id = ANY(%s)"
        ).format(table),
        (orders,),
    ).fetchall()
    changed = 0
    for aggregate_id, version, aggregate, event, detail in rows:
        m = marks.get(f"oms.{aggregate}.{event}")
        if m is None:
            continue
        redacted = rewrite(detail, m.plan, lambda kind, v: strings(v, lambda _: REDACTED))
        if redacted == detail:
            continue
        conn.execute(
            sql.SQL("UPDATE {} SET detail = %s WHERE aggregate_id = %s AND version = %s").format(
                table
            ),
            (Jsonb(redacted, dumps=_json), aggregate_id, version),
        )
        changed += 1
    return changed


def _redact_rows(conn: psycopg.Connection[Any], schema: str, orders: list[UUID]) -> dict[str, int]:
    existing = _existing(conn, schema)
    counts: dict[str, int] = {}
    for table, columns in COLUMNS.items():
        present = [c for c in columns if c in existing.get(table, set())]
        if not present or "order_id" not in existing.get(table, set()):
            continue
        sets: list[sql.Composable] = [
            sql.SQL("{c} = CASE WHEN {c} IS NULL THEN NULL ELSE %s::text END").format(
                c=sql.Identifier(c)
            )
            for c in present
        ]
        params: list[Any] = [columns[c] for c in present]
        if table == "notification":
            # The idempotency key ends in the recipient: keep it unique, drop the phone;
            # and what was not sent yet never will be.
            sets.append(
                sql.SQL("key = concat_ws(':', event_key, channel, %s::text, left(md5(key), 8))")
            )
            params.append(REDACTED)
            sets.append(
                sql.SQL("status = CASE WHEN status = 'pending' THEN 'skipped' ELSE status END")
            )
        query = sql.SQL("UPDATE {t} SET {sets} WHERE order_id = ANY(%s)").format(
            t=sql.Identifier(schema, table), sets=sql.SQL(", ").join(sets)
        )
        if table == "notification":
            query = sql.SQL("{} AND channel IN ('email', 'sms')").format(query)
        counts[table] = conn.execute(query, [*params, orders]).rowcount
    if "order_timeline" in existing:
        counts["order_timeline"] = _redact_timeline(conn, schema, orders)
    return counts


def forget(settings: Settings, customer: str, projection_schema: str) -> Forgotten:
    """Forget ``customer`` (a phone or account): see the module."""
    ensure_schema(settings)
    path = master_key_path(settings)
    sealer = Sealer(master_key(path), path)
    identity = sealer.identity(customer)
    keys = settings.privacy.schema_name
    with (
        psycopg.connect(settings.postgres.dsn, application_name="oms-forget") as conn,
        conn.transaction(),
    ):
        orders = _orders(conn, keys, identity)
        conn.execute(
            sql.SQL(
                "UPDATE {}.order_key SET wrapped_key = NULL, "
                "forgotten_at = coalesce(forgotten_at, now()) WHERE order_id = ANY(%s)"
            ).format(sql.Identifier(keys)),
            (orders,),
        )
        # The links go too: nothing names these orders' customer any more.
        conn.execute(
            sql.SQL("DELETE FROM {}.customer_order WHERE order_id = ANY(%s)").format(
                sql.Identifier(keys)
            ),
            (orders,),
        )
        tables = _redact_rows(conn, projection_schema, orders) if orders else {}
        rows = sum(tables.values())
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.forgotten_customer (identity, orders, rows_redacted) "
                "VALUES (%s, %s, %s)"
            ).format(sql.Identifier(keys)),
            (identity, len(orders), rows),
        )
    return Forgotten(len(orders), rows, tables)
