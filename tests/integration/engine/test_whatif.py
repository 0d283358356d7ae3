"""What-if on the real engine: a small history recorded with today's rule (the location
with most stock) replayed through a rule preferring the nearest location.

The history: tea received at Shanghai (10), Beijing (50) and Guangzhou (20); five
one-location orders to 浙江, 广东 (express), 北京, 上海 (2 units) and 四川, the last
cancelled. Today's rule ships all from Beijing (most stock). Ranked by distance:
浙江 from Shanghai, 广东 from Guangzhou, 北京 from Beijing, 上海 from Shanghai; the
cancelled order ships nothing either way. Worked by hand with the rules' costs
(SH 8, BJ 5, GZ 6 CNY a shipment) and capital-to-capital kilometres:

    actual:  20.0 CNY, 1124 (北京-浙江) + 1888 (北京-广东) + 0 + 1067 (北京-上海) = 4079 km
    what-if: 27.0 CNY,  165 (上海-浙江) +    0 (广东)    + 0 +    0            =  165 km

The express order to 广东 misses its two-day promise from Beijing (3 region hops,
3 days), not from Guangzhou.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from oms_events.domain.order import DeliverySpeed
from oms_events.engine.commands import AddressDetails, CancelOrder, PlaceOrder
from oms_events.engine.runner import Engine
from oms_events.kafka.connection import admin, consumer
from oms_events.kafka.port import TopicPartition
from oms_events.settings import Settings
from oms_events.whatif import fork
from tests.integration.conftest import drop_topics
from tests.integration.engine.harness import (
    engine_settings,
    light,
    order_outcomes,
    place_order,
    projections_running,
    receive,
    send,
    wait_for,
)

RULES = """
[sourcing]
rank_by = ["distance", "stock"]

[locations.SH]
province = "上海"
cost = 8.0
[locations.BJ]
province = "北京"
cost = 5.0
[locations.GZ]
province = "广东"
cost = 6.0
"""
STOCK = {("TEA", "SH"): 10, ("TEA", "BJ"): 50, ("TEA", "GZ"): 20}
PROJECTIONS = ("inventory", "tracking")


def _to(order: PlaceOrder, province: str, city: str, **changes: Any) -> PlaceOrder:
    ship_to = AddressDetails(
        country="CN", province=province, city=city, district="", postcode="", line1="1 号"
    )
    return dataclasses.replace(order, address=ship_to, **changes)


@dataclasses.dataclass(frozen=True)
class Runs:
    """The live history's settings and window, and two what-if runs over it."""

    live: Settings
    first: fork.Result
    second: fork.Result
    offsets_before: dict[str, dict[int, int]]
    offsets_after: dict[str, dict[int, int]]
    rows_before: dict[str, int]
    rows_after: dict[str, int]


def _end_offsets(settings: Settings) -> dict[str, dict[int, int]]:
    client = admin(settings)
    try:
        names = sorted(n for n in client.list_topics() if n.startswith(settings.kafka.topic_prefix))
    finally:
        client.close()
    c = consumer(settings, group_id=None)
    try:
        found: dict[str, dict[int, int]] = {}
        for name in names:
            parts = [TopicPartition(name, p) for p in sorted(c.partitions_for_topic(name))]
            ends = c.end_offsets(parts, stable=False)
            found[name] = {tp.partition: end for tp, end in ends.items()}
        return found
    finally:
        c.close()


def _row_counts(settings: Settings, schema: str) -> dict[str, int]:
    with psycopg.connect(settings.postgres.dsn) as conn:
        tables = [
            t
            for (t,) in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = %s AND table_type = 'BASE TABLE' ORDER BY table_name",
                (schema,),
            )
        ]
        counts = {}
        for t in tables:
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM {}.{}").format(
                    sql.Identifier(schema), sql.Identifier(t)
                )
            ).fetchone()
            counts[t] = row[0] if row else 0
        return counts


@pytest.fixture(scope="module")
def runs(dev_services: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    live = dev_services.replace(
        kafka={"topic_prefix": f"t{uuid.uuid4().hex[:8]}.", "partitions": 3}
    )
    schema = f"t_{uuid.uuid4().hex[:10]}"
    rules = tmp_path_factory.mktemp("whatif") / "nearest.toml"
    rules.write_text(RULES, encoding="utf-8")
    try:
        first_ms, last_ms = _record_history(light(live, 3), schema)
        offsets_before = _end_offsets(live)
        rows_before = _row_counts(live, schema)
        first = fork.whatif(live, rules, first_ms, last_ms)
        second = fork.whatif(live, rules, first_ms, last_ms)
        yield Runs(
            live,
            first,
            second,
            offsets_before,
            _end_offsets(live),
            rows_before,
            _row_counts(live, schema),
        )
    finally:
        with psycopg.connect(live.postgres.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        drop_topics(live)


def _record_history(live: Settings, schema: str) -> tuple[int, int]:
    """The history with today's rule, projected into ``schema``; its window (ms)."""
    run = uuid.uuid4().hex[:6]
    orders = [
        _to(place_order(f"W1-{run}", "TEA"), "浙江省", "杭州市"),
        _to(
            place_order(f"W2-{run}", "TEA", channel="tmall"),
            "广东省",
            "广州市",
            delivery_speed=DeliverySpeed.EXPRESS,
        ),
        _to(place_order(f"W3-{run}", "TEA"), "北京市", "北京市"),
        _to(place_order(f"W4-{run}", "TEA", quantity=2, channel="jd"), "上海市", "上海市"),
        _to(place_order(f"W5-{run}", "TEA"), "四川省", "成都市"),
    ]
    first_ms = int(time.time() * 1000) - 1
    receive(live, STOCK)
    engine = Engine(engine_settings(live))  # no rules file: today's rule
    engine.start()
    try:
        with projections_running(live, schema, PROJECTIONS):
            assert wait_for(
                lambda: all(engine.stock.available(s, loc) == q for (s, loc), q in STOCK.items()),
                60,
                0.2,
            )
            send(live, orders)
            assert wait_for(
                lambda: list(order_outcomes(live).values()).count("OrderAllocated") == 5, 60, 0.2
            )
            cancelled = uuid.UUID(orders[-1].key)
            send(live, [CancelOrder(command_id=str(uuid.uuid4()), order_id=cancelled, reason="x")])
            assert wait_for(
                lambda: order_outcomes(live).get(str(cancelled)) == "OrderCancelled", 60, 0.2
            )
    finally:
        engine.stop()
    assert not engine.failed()
    # The window ends after the last recorded event (it is exclusive).
    return first_ms, int(time.time() * 1000) + 1


def _total(result: fork.Result) -> dict[str, tuple[float, float]]:
    return {m: (a, w) for _, m, a, w, _ in result.comparison.rows("total")}


def test_the_nearest_location_rule_ships_fewer_kilometres_as_worked_by_hand(runs: Runs) -> None:
    total = _total(runs.first)
    assert total["orders"] == (5, 5)
    assert total["confirmed"] == (4, 4)
    assert total["cancelled"] == (1, 1)
    assert total["shipments"] == (4, 4)
    assert total["split_orders"] == (0, 0)
    assert total["distance_km"] == (4079, 165)
    assert total["shipping_cost"] == (20.0, 27.0)
    assert total["promise_misses"] == (1, 0)
    # Where each order shipped from, per side.
    ships = {o.order_id: o.locations for o in runs.first.history.orders.values()}
    assert sorted(ships.values()) == [(), ("BJ",), ("BJ",), ("BJ",), ("BJ",)]
    assert sorted(o.locations for o in runs.first.whatif.values()) == [
        (),
        ("BJ",),
        ("GZ",),
        ("SH",),
        ("SH",),
    ]
    by_channel = {(g, m): d for g, m, _, _, d in runs.first.comparison.rows("channel")}
    assert by_channel[("tmall", "distance_km")] == -1888
    assert by_channel[("jd", "distance_km")] == -1067
    assert by_channel[("web", "distance_km")] == 165 - 1124
    by_region = {(g, m): d for g, m, _, _, d in runs.first.comparison.rows("region")}
    assert by_region[("华南", "promise_misses")] == -1
    assert by_region[("华北", "distance_km")] == 0


def test_the_same_what_if_twice_gives_the_same_result(runs: Runs) -> None:
    assert runs.first.comparison == runs.second.comparison
    assert runs.first.whatif == runs.second.whatif
    assert runs.first.prefix != runs.second.prefix  # two forks, not one reused


def test_live_topics_and_projections_are_untouched(runs: Runs) -> None:
    assert runs.offsets_after == runs.offsets_before
    assert runs.rows_after == runs.rows_before
    assert sum(runs.rows_before.values()) > 0
    # Both forks were cleaned up: no topic of theirs, no schema.
    assert not any("whatif-" in name for name in runs.offsets_after)
    with psycopg.connect(runs.live.postgres.dsn) as conn:
        schemas = {runs.first.schema, runs.second.schema}
        left = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (list(schemas),)
        ).fetchall()
    assert left == []
