"""The projection's row cache without PostgreSQL: bounded, and a failed batch leaves nothing."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pytest

from oms_events.projection.rowcache import RowCache
from oms_events.projection.rows import Row
from oms_events.settings import Settings


class Table:
    """A stand-in for a projection table: what ``load`` finds, and which keys it was asked."""

    def __init__(self, rows: dict[Any, Row]) -> None:
        self.stored = rows
        self.asked: list[Any] = []

    def load(self, keys: Collection[Any]) -> dict[Any, Row]:
        self.asked += sorted(keys)
        return {k: dict(self.stored[k]) for k in keys if k in self.stored}


def test_a_hit_is_not_loaded_again_and_a_miss_is() -> None:
    table = Table({1: {"version": 1}, 2: {"version": 4}})
    cache = RowCache(10)
    with cache.batch():
        assert cache.rows("item", {1, 2, 3}, table.load) == {1: {"version": 1}, 2: {"version": 4}}
    with cache.batch():
        assert cache.rows("item", {1, 2, 3}, table.load) == {1: {"version": 1}, 2: {"version": 4}}
    # 3 does not exist: asked each time, since an absent row is not remembered.
    assert table.asked == [1, 2, 3, 3]
    assert (cache.hits, cache.misses) == (2, 4)


def test_the_cache_never_holds_more_than_its_size_and_evicts_the_least_recently_used() -> None:
    table = Table({k: {"version": k} for k in range(100)})
    cache = RowCache(3)
    with cache.batch():
        cache.rows("item", [0, 1, 2], table.load)
        cache.rows("item", [0], table.load)  # 0 is now the most recently used
        cache.keep("item", {50: {"version": 1}, 51: {"version": 1}})
        assert len(cache) == 3
    table.asked.clear()
    with cache.batch():
        cache.rows("item", [0, 50, 51, 1, 2], table.load)
    assert table.asked == [1, 2]  # evicted; 0 was kept because it had been used again
    with cache.batch():
        cache.rows("item", list(range(100)), table.load)
    assert len(cache) == 3


def test_a_failed_batch_forgets_the_rows_it_changed_and_created() -> None:
    table = Table({1: {"version": 1}, 2: {"version": 1}})
    cache = RowCache(10)
    with cache.batch():
        cache.rows("item", {1, 2}, table.load)
    with pytest.raises(RuntimeError), cache.batch():
        state = cache.rows("item", {1}, table.load)
        state[1]["version"] = 2  # the fold changes the cached row in place
        cache.keep("item", {3: {"version": 1}})
        raise RuntimeError("the transaction rolled back")
    table.asked.clear()
    with cache.batch():
        assert cache.rows("item", {1, 2, 3}, table.load) == {1: {"version": 1}, 2: {"version": 1}}
    assert table.asked == [1, 3]  # the untouched row 2 stayed cached


def test_kinds_do_not_mix_and_clear_forgets_everything() -> None:
    cache = RowCache(10)
    with cache.batch():
        cache.keep("order", {1: {"version": 1}})
        cache.keep("shipment", {1: {"version": 7}})
    with cache.batch():
        assert cache.rows("shipment", {1}, Table({}).load) == {1: {"version": 7}}
    cache.clear()
    assert len(cache) == 0


def test_size_zero_keeps_nothing() -> None:
    table = Table({1: {"version": 1}})
    cache = RowCache(0)
    for _ in range(2):
        with cache.batch():
            cache.rows("item", {1}, table.load)
    assert table.asked == [1, 1] and len(cache) == 0


def test_the_size_is_a_projections_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_PROJECTIONS_ROW_CACHE_SIZE", "123")
    assert Settings().projections.row_cache_size == 123


def test_a_failed_savepoint_forgets_its_rows_and_a_failed_transaction_all_of_its_own() -> None:
    table = Table({k: {"version": 1} for k in range(4)})
    cache = RowCache(10)
    with pytest.raises(RuntimeError), cache.batch():  # the transaction
        with cache.batch():  # a savepoint that commits
            cache.rows("item", {0}, table.load)[0]["version"] = 2
        with pytest.raises(KeyError), cache.batch():  # a savepoint that rolls back
            cache.rows("item", {1}, table.load)[1]["version"] = 2
            raise KeyError("line_no")
        assert len(cache) == 1  # only the rolled-back savepoint's row is gone so far
        cache.rows("item", {2}, table.load)
        raise RuntimeError("the transaction rolled back")
    with cache.batch():
        cache.rows("item", {3}, table.load)
    table.asked.clear()
    with cache.batch():
        assert cache.rows("item", range(4), table.load) == {k: {"version": 1} for k in range(4)}
    assert table.asked == [0, 1, 2]
