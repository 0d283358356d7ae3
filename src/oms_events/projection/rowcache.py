"""The rows a projection has committed, kept in memory so a batch need not reload them.

A projection is the only writer of its tables: its offsets move in the same
transaction as its rows, and anyone else moving them (a second runner, a replay
swapped in) makes that transaction fail with an offset conflict. So the rows it
last committed *are* the rows in the database, and reloading the aggregates of
every batch is wasted work. The cache stays exact because:

* it is bounded (least recently used first out); a miss loads from PostgreSQL;
* rows a failed batch read or wrote are forgotten (``batch()``, once per transaction
  or savepoint): the fold mutates them in place, and the rollback undid those changes;
* ``clear()`` empties it whenever the runner re-reads its offsets (start, offset
  conflict, partitions taken away): rows it no longer owns are not kept.

Entries are the fold state of one aggregate (e.g. an order with its lines), by
``kind`` (``"order"``, ``"shipment"``…) and aggregate id.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from oms_events.projection.rows import Row

Loader = Callable[[Collection[Any]], dict[Any, Row]]


class RowCache:
    """At most ``size`` fold states, least recently used evicted first (0: no cache)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._rows: OrderedDict[tuple[str, Any], Row] = OrderedDict()
        # Per open batch (transaction, then savepoints): the keys it handed out or
        # stored, which its failure forgets.
        self._open: list[set[tuple[str, Any]]] = []

    def __len__(self) -> int:
        return len(self._rows)

    def rows(self, kind: str, keys: Collection[Any], load: Loader) -> dict[Any, Row]:
        """The rows of ``keys`` that exist: from memory, the others through ``load``.

        The caller may change the rows returned in place (the fold does): they are
        the cached objects, kept or forgotten with the batch.
        """
        found: dict[Any, Row] = {}
        missing: list[Any] = []
        for key in keys:
            row = self._rows.get((kind, key))
            if row is None:
                missing.append(key)
            else:
                self._rows.move_to_end((kind, key))
                found[key] = row
        self.hits += len(found)
        self.misses += len(missing)
        if missing:
            loaded = load(missing)
            self.keep(kind, loaded)
            found.update(loaded)
        self._touch((kind, key) for key in found)
        return found

    def keep(self, kind: str, rows: Mapping[Any, Row]) -> None:
        """Remember ``rows`` (e.g. those a batch created) as the latest state of their keys."""
        for key, row in rows.items():
            self._rows[(kind, key)] = row
            self._rows.move_to_end((kind, key))
        self._touch((kind, key) for key in rows)
        while len(self._rows) > self.size:
            self._rows.popitem(last=False)

    def _touch(self, keys: Iterable[tuple[str, Any]]) -> None:
        if self._open:
            self._open[-1].update(keys)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Around one transaction or savepoint: if the block raises, forget every row it
        touched. Nested, an inner one that succeeds hands its rows to the outer one,
        whose own rollback would undo them too."""
        touched: set[tuple[str, Any]] = set()
        self._open.append(touched)
        try:
            yield
        except BaseException:
            for key in touched:
                self._rows.pop(key, None)
            raise
        finally:
            self._open.pop()
            self._touch(touched)

    def clear(self) -> None:
        """Forget everything: the next batch loads its rows from PostgreSQL."""
        self._rows.clear()
