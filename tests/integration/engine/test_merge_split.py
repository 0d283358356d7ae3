"""Merging (合单) and splitting (拆单) orders through the CLI, on the real broker and
PostgreSQL, one engine for the module (review on: totals above ¥15.00 are held, so
orders wait for an operator before allocation; shortages make pre-orders):

* three held orders of one customer and address are merged; one is cancelled after the
  group's parcel was made: its stock is released, and the warehouse's ONE allocation
  (one parcel, one waybill) ships and delivers the other two together;
* an order short of stock is split by availability: what is in stock is allocated now,
  the backorder after ``oms stock receive``, each in its own parcel.

Throughout, stock is conserved: inventory_level's on-hand units are what was received
less what left in parcels, and nothing stays reserved for a cancelled order.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from oms_events import topics
from oms_events.engine.commands import RecordCarrierUpdate, RecordWarehouseUpdate
from oms_events.settings import Settings
from tests.integration.engine.harness import (
    CODEC,
    EngineWorld,
    engine_world,
    light,
    oms_cli,
    read_events,
    read_topic,
    send,
    wait_for,
)
from tests.unit.engine.flow import place

STOCK = {
    ("MS-A", "SH"): 5,
    ("MS-B", "SH"): 5,
    ("MS-C", "SH"): 5,
    ("SP-A", "SH"): 1,
    ("SP-B", "SH"): 4,
}
WAIT = 60


@pytest.fixture(scope="module")
def world(dev_services: Settings) -> Iterator[EngineWorld]:
    """One engine reviewing orders and pre-ordering on shortage, its topics, and the
    inventory and tracking projections beside it."""
    settings = light(dev_services.replace(kafka={"topic_prefix": f"t{uuid.uuid4().hex[:8]}."}))
    settings = settings.replace(
        review={"enabled": True, "amount_above": 1500},
        engine={"workflow": '{"on_shortage": "preorder"}'},
    )
    with engine_world(settings, STOCK, ["inventory", "tracking"]) as world:
        yield world


def ok(w: EngineWorld, *args: str) -> str:
    code, said = oms_cli(w, *args)
    assert code == 0, said
    return said


def query(w: EngineWorld, text: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(w.settings.postgres.dsn) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(w.schema)))
        return conn.execute(text, args).fetchall()


def shows(w: EngineWorld, text: str, expected: list[tuple[Any, ...]], *args: Any) -> None:
    if not wait_for(lambda: query(w, text, *args) == expected, WAIT, 0.2):
        assert query(w, text, *args) == expected


def level(w: EngineWorld, sku: str) -> list[tuple[Any, ...]]:
    """(on_hand, reserved, available) of ``sku`` at SH."""
    return query(
        w,
        "SELECT on_hand, reserved, available FROM inventory_level "
        "WHERE sku = %s AND location = 'SH'",
        sku,
    )


def allocation_records(w: EngineWorld, *order_ids: UUID) -> list[dict[str, Any]]:
    """The oms.allocation.Allocation records naming one of ``order_ids`` (as the
    allocation's order or a line's)."""
    wanted = {str(i) for i in order_ids}
    found = []
    for r in read_topic(w.settings, topics.name(w.settings, topics.ALLOCATIONS)):
        name, record = CODEC.decode(r.value or b"")
        if name != "oms.allocation.Allocation":
            continue
        named = {record["order_id"]} | {ln.get("order_id") for ln in record["lines"]}
        if named & wanted:
            found.append(record)
    return found


def ship_and_deliver(w: EngineWorld, shipment_id: str, waybill: str) -> None:
    """The warehouse picks, packs and ships the parcel; the carrier delivers it."""
    sid = UUID(shipment_id)
    updates: list[Any] = [
        RecordWarehouseUpdate(
            command_id=f"{sid}/{status}",
            shipment_id=sid,
            status=status,  # type: ignore[arg-type]
            carrier="SF" if status == "shipped" else None,
            tracking_no=waybill if status == "shipped" else None,
        )
        for status in ("picked", "packed", "shipped")
    ]
    send(w.settings, updates)
    assert wait_for(
        lambda: (
            query(w, "SELECT status FROM shipment_tracking WHERE shipment_id = %s", sid)
            == [("shipped",)]
        ),
        WAIT,
        0.2,
    )
    send(
        w.settings,
        [
            RecordCarrierUpdate(
                command_id=f"{sid}/delivered",
                shipment_id=sid,
                carrier="SF",
                tracking_no=waybill,
                status="delivered",
                occurred_at=datetime.now(UTC),
            )
        ],
    )


def statuses(w: EngineWorld, *order_nos: str) -> list[tuple[Any, ...]]:
    return query(
        w,
        "SELECT order_no, status FROM order_tracking WHERE order_no = ANY(%s) ORDER BY order_no",
        list(order_nos),
    )


def test_merged_orders_ship_as_one_parcel_and_a_cancelled_member_releases_its_stock(
    world: EngineWorld,
) -> None:
    w = world
    # One customer, one address, three orders of ¥20.00: each held for review.
    orders = [place(f"M{n}", [(sku, 2)]) for n, sku in enumerate(("MS-A", "MS-B", "MS-C"), 1)]
    send(w.settings, orders)
    numbers = [o.order_no for o in orders]
    ids = [UUID(o.key) for o in orders]
    shows(
        w,
        "SELECT count(*) FROM review_queue WHERE order_no = ANY(%s)",
        [(3,)],
        numbers,
    )

    said = ok(w, "order", "merge", *numbers, "--by", "wang.wu")
    assert "merged: 3 orders ship as one parcel per location" in said, said
    shows(
        w,
        "SELECT count(DISTINCT merge_group) FROM order_tracking WHERE order_no = ANY(%s) "
        "AND merge_group IS NOT NULL",
        [(1,)],
        numbers,
    )
    acted = [
        (e.originator_id, e.payload["action"], e.payload["actor"])
        for e in read_events(w.settings, "order")
        if e.name == "OperatorActed" and e.originator_id in ids
    ]
    assert sorted(acted) == sorted((i, "merge", "wang.wu") for i in ids)

    for number in numbers:
        ok(w, "order", "review", number, "--approve", "--by", "wang.wu")
    # ONE allocation for the group: one parcel at SH with every order's lines.
    assert wait_for(lambda: len(allocation_records(w, *ids)) == 1, WAIT, 0.3)
    [parcel] = allocation_records(w, *ids)
    assert parcel["merge_group"] is not None
    assert sorted((ln["order_id"], ln["sku"], ln["quantity"]) for ln in parcel["lines"]) == sorted(
        (str(i), sku, 2) for i, sku in zip(ids, ("MS-A", "MS-B", "MS-C"), strict=True)
    )
    shows(
        w,
        "SELECT count(*) FROM shipment_tracking WHERE shipment_id = %s",
        [(1,)],
        UUID(parcel["shipment_id"]),
    )

    # The third order is cancelled before the parcel leaves: its lines come out of the
    # parcel and its two units go back to stock; the others' stay reserved.
    ok(w, "order", "cancel", numbers[2], "--reason", "customer changed mind")
    shows(
        w,
        "SELECT units FROM shipment_tracking WHERE shipment_id = %s",
        [(4,)],
        UUID(parcel["shipment_id"]),
    )
    assert wait_for(lambda: level(w, "MS-C") == [(5, 0, 5)], WAIT, 0.2), level(w, "MS-C")

    ship_and_deliver(w, parcel["shipment_id"], "SF1000000000001")
    shows(
        w,
        "SELECT order_no, status FROM order_tracking WHERE order_no = ANY(%s) ORDER BY order_no",
        [(numbers[0], "delivered"), (numbers[1], "delivered"), (numbers[2], "cancelled")],
        numbers,
    )
    # Both delivered orders name the one parcel; stock: 2 units of each left, none held.
    assert query(
        w,
        "SELECT DISTINCT shipment_id FROM order_line WHERE order_id = ANY(%s)",
        ids[:2],
    ) == [(parcel["shipment_id"],)]
    assert wait_for(lambda: level(w, "MS-A") == [(3, 0, 3)], WAIT, 0.2), level(w, "MS-A")
    assert level(w, "MS-B") == [(3, 0, 3)]
    assert level(w, "MS-C") == [(5, 0, 5)]


def test_a_split_order_ships_what_is_in_stock_and_its_backorder_after_a_receipt(
    world: EngineWorld,
) -> None:
    w = world
    # 3 x SP-A (1 in stock) and 1 x SP-B: SP-A is short, the order waits as a pre-order.
    order = place("S1", [("SP-A", 3), ("SP-B", 1)])
    send(w.settings, [order])
    order_id = UUID(order.key)
    shows(w, "SELECT status FROM order_tracking WHERE order_id = %s", [("pre_order",)], order_id)

    said = ok(w, "order", "split", order.order_no, "--by", "availability", "--actor", "li.si")
    assert "split by availability: 1 line(s) backordered (2 unit(s))" in said, said
    shows(
        w,
        "SELECT line_no, sku, quantity, status FROM order_line WHERE order_id = %s "
        "ORDER BY line_no",
        [(1, "SP-A", 1, "reserved"), (2, "SP-B", 1, "reserved"), (3, "SP-A", 2, "backordered")],
        order_id,
    )
    # ¥40.00: review holds what ships now; approved, it is allocated without the backorder.
    ok(w, "order", "review", order.order_no, "--approve", "--by", "li.si")
    assert wait_for(lambda: len(allocation_records(w, order_id)) == 1, WAIT, 0.3)
    [now] = allocation_records(w, order_id)
    assert sorted((ln["sku"], ln["quantity"]) for ln in now["lines"]) == [("SP-A", 1), ("SP-B", 1)]
    shows(
        w,
        "SELECT status, backordered_units FROM order_tracking WHERE order_id = %s",
        [("allocated", 2)],
        order_id,
    )

    ok(w, "stock", "receive", "SP-A", "SH", "5", "--reason", "PO-9")
    assert wait_for(lambda: len(allocation_records(w, order_id)) == 2, WAIT, 0.3)
    later = allocation_records(w, order_id)[1]
    assert [(ln["line_no"], ln["sku"], ln["quantity"]) for ln in later["lines"]] == [(3, "SP-A", 2)]
    assert later["shipment_id"] != now["shipment_id"]
    shows(w, "SELECT backordered_units FROM order_tracking WHERE order_id = %s", [(0,)], order_id)
    assert wait_for(lambda: level(w, "SP-A") == [(6, 3, 3)], WAIT, 0.2), level(w, "SP-A")

    ship_and_deliver(w, now["shipment_id"], "SF1000000000002")
    shows(
        w,
        "SELECT status FROM order_tracking WHERE order_id = %s",
        [("partially_shipped",)],
        order_id,
    )
    ship_and_deliver(w, later["shipment_id"], "SF1000000000003")
    shows(w, "SELECT status FROM order_tracking WHERE order_id = %s", [("delivered",)], order_id)
    # Received 1 + 5 of SP-A, 3 left in two parcels; 4 of SP-B, 1 left.
    assert wait_for(lambda: level(w, "SP-A") == [(3, 0, 3)], WAIT, 0.2), level(w, "SP-A")
    assert level(w, "SP-B") == [(3, 0, 3)]


def test_stock_is_conserved(world: EngineWorld) -> None:
    """Every unit received is on hand or left in a parcel: inventory_level's sums."""
    w = world
    received = sum(STOCK.values()) + 5  # the receipt of the split test
    shipped = 2 + 2 + 3 + 1  # the merged parcel, the split order's two parcels
    shows(
        w,
        "SELECT sum(on_hand), sum(reserved) FROM inventory_level",
        [(received - shipped, 0)],
    )
