"""The projections' row cache on real Kafka and PostgreSQL: never a row that was not committed.

Each test drives a runner through a rolled-back batch or a second writer, keeps
using the same runner (and so the same cache), then compares every table with a
fresh replay, row by row.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import psycopg
import pytest
from psycopg import sql

from oms_events.projection.migrate import migrate
from oms_events.projection.registry import select
from oms_events.projection.replay import rebuild
from oms_events.projection.rowcache import RowCache
from oms_events.projection.runner import Runner, connect
from oms_events.projection.spec import Projection, Writer
from oms_events.settings import Settings
from tests.integration.projections import world as w
from tests.integration.projections.conftest import differences

TABLES = {
    "inventory": ("inventory_level", "inventory_sales_daily"),
    "tracking": ("order_tracking", "order_line", "order_timeline", "shipment_tracking"),
    "exceptions": ("exception", "exception_subject"),
    "analytics": ("fact_order_line",),
}


class FoldError(RuntimeError):
    """A failure of the projection's own code: the runner rolls the batch's savepoint
    back and applies its records one by one."""


# Injected failures, and whether the runner's step raises it.
FAILURES = {
    "savepoint": (FoldError("line 3 has no sku"), False),
    # The database went away mid-batch: the whole transaction rolls back, the step raises.
    "transaction": (psycopg.OperationalError("server closed the connection"), True),
}


def failing_once(write: Writer, at_call: int, error: Exception) -> Writer:
    """``write`` that, on its ``at_call``-th call, folds and writes everything, then fails:
    the rollback comes after the fold has changed the cached rows."""
    calls = 0

    def wrapped(conn: psycopg.Connection[Any], records: Any, cache: RowCache) -> None:
        nonlocal calls
        calls += 1
        write(conn, records, cache)
        if calls == at_call:
            raise error

    return wrapped


def assert_equals_a_fresh_replay(
    settings: Settings, pg: psycopg.Connection[Any], schema: str, projection: Projection
) -> None:
    fresh = schema + "_fresh"
    rebuild(settings, projection, fresh)
    for t in TABLES[projection.name]:
        count = pg.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, t)))
        assert (count.fetchone() or (0,))[0] > 0, t
        assert differences(pg, schema, fresh, t) == 0, f"{t} differs from a fresh replay"
    pg.commit()


@pytest.mark.parametrize("failure", list(FAILURES))
@pytest.mark.parametrize("cache_size", [5, 100_000])
@pytest.mark.parametrize("name", list(TABLES))
def test_a_rolled_back_batch_leaves_no_stale_row_in_the_cache(
    topics_ready: Settings,
    pg: psycopg.Connection,
    schema: str,
    name: str,
    cache_size: int,
    failure: str,
) -> None:
    world = w.build(120)
    w.produce(topics_ready, world.events)
    w.produce_dead_letters(topics_ready, 4)
    settings = topics_ready.replace(projections={"row_cache_size": cache_size})
    (projection,) = select([name])
    error, raised = FAILURES[failure]
    failing = dataclasses.replace(projection, write=failing_once(projection.write, 2, error))

    with connect(settings.postgres.dsn, schema, f"test-{name}") as conn:
        migrate(conn, schema, [projection])
        runner = Runner(settings, failing, conn, batch_size=150)
        try:
            if raised:
                with pytest.raises(type(error)):
                    runner.catch_up()
            # The same runner, with the cache it had, applies the failed batch again.
            runner.catch_up()
            assert runner.metrics.fold_errors == 0
            assert 0 < len(runner.cache) <= cache_size
        finally:
            runner.close()
    assert_equals_a_fresh_replay(topics_ready, pg, schema, projection)


def test_a_second_writer_moving_the_offsets_clears_the_cache(
    topics_ready: Settings, pg: psycopg.Connection, schema: str
) -> None:
    world = w.build(120)
    third = len(world.events) // 3
    parts = world.events[:third], world.events[third : 2 * third], world.events[2 * third :]
    (projection,) = select(["inventory"])

    def handled(events: list[Any]) -> int:
        return sum(
            1
            for e in events
            if type(e).__qualname__.startswith("InventoryItem.")
            and type(e).__name__ in projection.events
        )

    def consume(runner: Runner, events: int) -> None:
        # Step until the runner has written that many events: a transaction's end marker
        # may reach a partition after the producer's commit returns.
        for _ in range(10_000):
            if runner.metrics.events >= events:
                return
            runner.step()
        raise AssertionError(f"{runner.metrics.events} events written, {events} expected")

    with (
        connect(topics_ready.postgres.dsn, schema, "test-a") as a_conn,
        connect(topics_ready.postgres.dsn, schema, "test-b") as b_conn,
    ):
        migrate(a_conn, schema, [projection])
        # Small batches for A: the batch that meets the conflict touches only a few items,
        # so the other items it holds in memory are older than the table's.
        a = Runner(topics_ready, projection, a_conn, batch_size=3)
        b = Runner(topics_ready, projection, b_conn)
        try:
            w.produce(topics_ready, parts[0])
            consume(a, handled(parts[0]))
            assert len(a.cache) > 0
            w.produce(topics_ready, parts[1])
            consume(b, handled(parts[1]))  # another runner (or a replay swapped in) moves on
            w.produce(topics_ready, parts[2])
            a.step()
            assert a.metrics.conflicts == 1
            assert len(a.cache) == 0
            consume(a, handled(parts[0]) + handled(parts[2]))
        finally:
            a.close()
            b.close()
    assert_equals_a_fresh_replay(topics_ready, pg, schema, projection)
