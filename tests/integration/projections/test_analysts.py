"""The example queries of docs/analysts.md, against projections of events made in the test."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from consumers.promises import deadlines

from oms_events.cli.order import render
from oms_events.projection.lookup import find_orders
from oms_events.settings import Settings
from tests.integration.projections import world as w
from tests.integration.projections.test_projections import run_all

DOC = Path(__file__).resolve().parents[3] / "docs" / "analysts.md"


def query(name: str) -> str:
    """The SQL block that follows ``<!-- query: name -->`` in the analysts' page."""
    match = re.search(rf"<!-- query: {name} -->\s*```sql\n(.*?)```", DOC.read_text(), re.S)
    assert match, f"no query {name} in {DOC}"
    return match.group(1)


def test_analysts_queries_answer_from_the_events(
    topics_ready: Settings, schema: str, runtime_dsn: str, analyst_pg: psycopg.Connection
) -> None:
    world = w.build(150, seed=11)
    w.produce(topics_ready, world.events)
    run_all(topics_ready, schema, runtime_dsn)
    pg = analyst_pg  # the queries as analysts run them: the read-only role
    pg.execute(f"SET search_path TO {schema}")

    # Units per channel per day last week (business days: Shanghai), from the orders.
    shop = ZoneInfo("Asia/Shanghai")
    today = datetime.now(shop).date()
    monday = today - timedelta(days=today.weekday())
    expected: Counter[tuple[object, str]] = Counter()
    for o in world.orders:
        day = o.placed_at.astimezone(shop).date()
        if (
            o.status.value not in ("cancelled", "rejected")
            and monday - timedelta(7) <= day < monday
        ):
            expected[(day, o.channel)] += sum(ln.quantity for ln in o.lines.values())
    got = {(d, c): int(u) for d, c, u in pg.execute(query("units_per_channel_last_week"))}
    assert got == dict(expected) and got

    # Orders late to ship per warehouse, from the times their lines shipped.
    shipped: dict[object, list[datetime]] = {}
    for e in world.events:
        if type(e).__name__ in ("LinesShipped", "OrderShipped") and e.line_nos:
            shipped.setdefault(e.originator_id, []).append(e.timestamp)
    now = datetime.now(UTC)
    late: Counter[str] = Counter()
    for o in world.orders:
        if o.status.value in ("cancelled", "rejected") or not o.allocations:
            continue
        _, ship_by, _ = deadlines(o.placed_at, o.delivery_speed.value)
        times = shipped.get(o.id) or [now]
        if max(times) > ship_by:
            late[next(iter(o.allocations.values()))] += 1
    # Customer service finds the same orders by number and by phone, and can print them.
    first = world.orders[0]
    views = find_orders(pg, schema, order_no=first.order_no)
    assert [v.order["status"] for v in views] == [first.status.value]
    assert len(views[0].timeline) >= 2
    by_phone = find_orders(pg, schema, phone=first.customer.phone, limit=500)
    assert first.order_no in {v.order["order_no"] for v in by_phone}
    render(views[0], "zh")

    got_late = dict(pg.execute(query("orders_late_to_ship_per_warehouse")).fetchall())
    assert got_late == dict(late) and got_late
