"""An operator's order actions through the CLI, on the real broker and PostgreSQL, one
engine for the module with review on (risk: totals above ¥15.00 are held):

* an order failing review is held, shows in the queue, is approved and allocated;
* an operator holds an unpaid order, records a bank transfer (the payment ledger shows
  it), and releases it to allocation; holding it again once allocated is refused;
* an order held by review is edited (a line added: PaymentDue), the difference is paid
  in cash at a counter, and the order approved;
* an allocated order is re-routed before pick: reserved at BJ, SH's shipment withdrawn
  (its warehouse told) and its reservation released.

Each case has its own skus, so its stock is read alone from the inventory projection.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from oms_events import topics
from oms_events.settings import Settings
from tests.integration.engine.harness import (
    CODEC,
    EngineWorld,
    engine_world,
    light,
    place_order,
    read_events,
    read_topic,
    send,
    wait_for,
)

SKUS = ("OP-A", "OP-B", "OP-C", "OP-D", "OP-E")
WAIT = 60


World = EngineWorld


@pytest.fixture(scope="module")
def world(dev_services: Settings) -> Iterator[World]:
    """One engine reviewing orders, its topics, and the inventory, tracking and payments
    projections beside it, as `oms project run` runs them."""
    settings = light(dev_services.replace(kafka={"topic_prefix": f"t{uuid.uuid4().hex[:8]}."}))
    settings = settings.replace(review={"enabled": True, "amount_above": 1500})
    stock = {**{(sku, "SH"): 5 for sku in SKUS}, ("OP-E", "BJ"): 3}
    with engine_world(settings, stock, ["inventory", "tracking", "payments"]) as world:
        yield world


def cli(w: World, *args: str) -> tuple[int, str]:
    """Run ``oms order ARGS`` on the world's settings, in English: (exit code, output)."""
    env = {
        **os.environ,
        "LANG": "en_US.UTF-8",
        "LC_ALL": "",
        "OMS_KAFKA_BOOTSTRAP_SERVERS": w.settings.kafka.bootstrap_servers,
        "OMS_KAFKA_TOPIC_PREFIX": w.settings.kafka.topic_prefix,
        "OMS_KAFKA_PARTITIONS": str(w.settings.kafka.partitions),
        "OMS_POSTGRES_DSN": w.settings.postgres.dsn,
        "OMS_PROJECTIONS_SCHEMA_NAME": w.schema,
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [sys.executable, "-m", "oms_events.cli.main", "order", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


def ok(w: World, *args: str) -> str:
    """``cli`` that must succeed; its output."""
    code, said = cli(w, *args)
    assert code == 0, said
    return said


def query(w: World, text: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of ``text`` in the projection schema."""
    with psycopg.connect(w.settings.postgres.dsn) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(w.schema)))
        return conn.execute(text, args).fetchall()


def shows(w: World, text: str, expected: list[tuple[Any, ...]], *args: Any) -> None:
    """Wait until ``text`` returns ``expected``, else fail with what it returns."""
    if not wait_for(lambda: query(w, text, *args) == expected, WAIT, 0.2):
        assert query(w, text, *args) == expected


def status(w: World, order_no: str) -> list[tuple[Any, ...]]:
    return query(w, "SELECT status FROM order_tracking WHERE order_no = %s", order_no)


def level(w: World, sku: str, location: str = "SH") -> tuple[int, int] | None:
    """(reserved, available) of ``sku`` at ``location``, as the inventory projection
    shows it."""
    found = query(
        w,
        "SELECT reserved, available FROM inventory_level WHERE sku = %s AND location = %s",
        sku,
        location,
    )
    return (found[0][0], found[0][1]) if found else None


def allocations(w: World, order_id: UUID, kind: str = "Allocation") -> list[str]:
    """Locations of the order's ``oms.allocation.<kind>`` records, in order."""
    found = []
    for r in read_topic(w.settings, topics.name(w.settings, topics.ALLOCATIONS)):
        name, record = CODEC.decode(r.value or b"")
        if name == f"oms.allocation.{kind}" and record["order_id"] == str(order_id):
            found.append(record["location"])
    return found


def allocated(w: World, order_id: UUID) -> bool:
    return bool(allocations(w, order_id))


def acted(w: World, order_id: UUID) -> list[tuple[str, str]]:
    """(action, actor) of the order's OperatorActed events."""
    return [
        (e.payload["action"], e.payload["actor"])
        for e in read_events(w.settings, "order")
        if e.originator_id == order_id and e.name == "OperatorActed"
    ]


def test_an_order_failing_review_is_queued_then_approved_and_allocated(world: World) -> None:
    order = place_order("OP1", "OP-A", quantity=2)  # ¥20.00, above ¥15.00
    send(world.settings, [order])
    shows(
        world,
        "SELECT order_no, failed_rules FROM review_queue WHERE order_no = %s",
        [(order.order_no, ["risk.amount"])],
        order.order_no,
    )
    assert wait_for(lambda: level(world, "OP-A") == (2, 3), WAIT, 0.2)  # stock held meanwhile
    assert order.order_no in ok(world, "queue")

    said = ok(world, "review", order.order_no, "--approve", "--by", "wang.wu", "--reason", "ok")
    assert "released from hold" in said and "allocated to SH" in said
    assert allocated(world, UUID(order.key))
    assert acted(world, UUID(order.key)) == [("approve", "wang.wu")]
    shows(world, "SELECT count(*) FROM review_queue WHERE order_no = %s", [(0,)], order.order_no)


def test_a_held_order_paid_by_bank_transfer_is_released_to_allocation(world: World) -> None:
    order = place_order("OP2", "OP-B", paid=False)  # ¥10.00, waits for its money
    send(world.settings, [order])
    assert wait_for(lambda: level(world, "OP-B") == (1, 4), WAIT, 0.2)
    assert wait_for(lambda: status(world, order.order_no) == [("pending",)], WAIT, 0.2)

    said = ok(world, "hold", order.order_no, "--reason", "check the transfer", "--by", "li.si")
    assert "held: check the transfer" in said
    said = ok(
        world,
        "pay",
        order.order_no,
        "--amount",
        "10.00",
        "--method",
        "bank_transfer",
        "--reference",
        "ICBC-889",
        "--by",
        "li.si",
    )
    assert "payment recorded: 10.00 CNY" in said
    assert not allocated(world, UUID(order.key))  # paid, but held
    shows(
        world,
        "SELECT kind, amount, method, provider_reference FROM payment_ledger WHERE order_no = %s",
        [("capture", 1000, "bank_transfer", "offline:bank_transfer:ICBC-889")],
        order.order_no,
    )

    said = ok(world, "release", order.order_no, "--by", "li.si")
    assert "allocated to SH" in said
    assert acted(world, UUID(order.key)) == [
        ("hold", "li.si"),
        ("pay", "li.si"),
        ("release", "li.si"),
    ]

    code, said = cli(world, "hold", order.order_no, "--reason", "too late")
    assert code == 1
    assert said.strip().count("\n") == 0 and "refused (status.invalid_transition)" in said


def test_an_edited_order_is_collected_in_cash_then_approved(world: World) -> None:
    order = place_order("OP3", "OP-C", quantity=2)  # ¥20.00 paid at the channel: held
    send(world.settings, [order])
    shows(
        world,
        "SELECT failed_rules FROM review_queue WHERE order_no = %s",
        [(["risk.amount"],)],
        order.order_no,
    )
    said = ok(world, "edit", order.order_no, "--add", "OP-D:1:5.00", "--by", "zhao.liu")
    assert "line 2 added: OP-D x 1" in said and "payment due: 5.00 CNY" in said
    assert wait_for(lambda: level(world, "OP-D") == (1, 4), WAIT, 0.2)  # the new line reserved

    said = ok(
        world, "pay", order.order_no, "--amount", "5.00", "--method", "cash", "--reference", "T-7"
    )
    assert "payment recorded: 5.00 CNY" in said
    ok(world, "review", order.order_no, "--approve")
    assert allocated(world, UUID(order.key))
    shows(
        world,
        "SELECT method, amount FROM payment_ledger WHERE order_no = %s ORDER BY amount",
        [("cash", 500), ("alipay", 2000)],
        order.order_no,
    )
    shows(
        world,
        "SELECT order_total, amount_paid FROM order_tracking WHERE order_no = %s",
        [(2500, 2500)],
        order.order_no,
    )


def test_an_allocation_is_rerouted_before_pick(world: World) -> None:
    order = place_order("OP4", "OP-E")  # ¥10.00: passes review, allocated at SH (most stock)
    send(world.settings, [order])
    order_id = UUID(order.key)
    assert wait_for(lambda: allocations(world, order_id) == ["SH"], WAIT, 0.3)
    assert wait_for(lambda: level(world, "OP-E", "SH") == (1, 4), WAIT, 0.2)

    said = ok(world, "reroute", order.order_no, "--from", "SH", "--to", "BJ", "--by", "ops")
    assert "reserving 1 line(s) at BJ" in said and "re-routed to BJ" in said
    assert wait_for(lambda: level(world, "OP-E", "SH") == (0, 5), WAIT, 0.2)  # released
    assert level(world, "OP-E", "BJ") == (1, 2)  # reserved there first
    assert allocations(world, order_id) == ["SH", "BJ"]
    assert allocations(world, order_id, "AllocationCancelled") == ["SH"]  # warehouse told
    shows(
        world,
        "SELECT location FROM order_line WHERE order_id = %s",
        [("BJ",)],
        order_id,
    )
