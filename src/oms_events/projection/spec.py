"""What a projection is: the topics it reads, its consumer group, its SQL, its handlers.

The projections themselves live in the top-level ``consumers`` package, one small
module each; this module only defines their shape and finds them.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oms_events.eventlog import EventRecord

if TYPE_CHECKING:
    import psycopg

    from oms_events.projection.rowcache import RowCache

ROOT = Path(__file__).resolve().parents[3]
SQL_DIR = ROOT / "projections"


class UnknownProjection(LookupError):
    """A projection name that no consumers/ module declares."""


@dataclass(frozen=True)
class DeadLetter:
    """A record of ``oms.deadletter``: never decoded, only its headers are read."""

    topic: str
    partition: int
    offset: int
    timestamp: datetime
    key: bytes | None
    headers: Mapping[str, str]


Record = EventRecord | DeadLetter
Writer = Callable[["psycopg.Connection[Any]", Sequence[Record], "RowCache"], None]


@dataclass(frozen=True)
class Projection:
    """One projection: everything the runner, ``oms db migrate`` and ``oms replay`` need.

    ``topics`` are registry names without prefix (``oms.inventory.events``);
    ``events`` names the events ``write`` handles, so the runner skips the others
    without decoding them; ``write`` applies one batch inside the caller's transaction,
    taking the rows it folds from the runner's cache of what it committed before.
    """

    name: str
    topics: tuple[str, ...]
    group: str
    migrations: tuple[str, ...]
    events: frozenset[str]
    write: Writer
    reads_dead_letters: bool = False


def load_projections() -> dict[str, Projection]:
    """Every projection of the ``consumers`` package, by name, in registry order."""
    try:
        package = importlib.import_module("consumers")
    except ModuleNotFoundError:
        # Until the package is installed alongside oms_events, find it in the checkout.
        sys.path.insert(0, str(ROOT))
        package = importlib.import_module("consumers")
    return {p.name: p for p in package.PROJECTIONS}


def select(names: Sequence[str]) -> list[Projection]:
    """The named projections (all when ``names`` is empty).

    Unknown names raise :class:`UnknownProjection`.
    """
    known = load_projections()
    if not names:
        return list(known.values())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UnknownProjection(
            f"unknown projection {', '.join(unknown)}; known: {', '.join(known)}"
        )
    return [known[n] for n in names]
