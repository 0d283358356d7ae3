"""What a projection is: the topics it reads, its consumer group, its SQL, its handlers.

The projections themselves live in the top-level ``consumers`` package, one small
module each; this module only defines their shape (``oms_events.projection.registry``
finds them, so ``consumers`` importing this module is no cycle).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from oms_events.deadletter import DeadLetter
from oms_events.eventlog import EventRecord

if TYPE_CHECKING:
    import psycopg

    from oms_events.projection.rowcache import RowCache


@dataclass(frozen=True)
class DeadLetterRecord:
    """A record of ``oms.deadletter``: never decoded, its headers read by the contract."""

    topic: str
    partition: int
    offset: int
    timestamp: datetime
    key: bytes | None
    letter: DeadLetter


Record = EventRecord | DeadLetterRecord
Writer = Callable[["psycopg.Connection[Any]", Sequence[Record], "RowCache"], None]


@dataclass(frozen=True)
class Projection:
    """One projection: everything the runner, ``oms db migrate`` and ``oms replay`` need.

    ``topics`` are registry names without prefix (``oms.inventory.events``);
    ``events`` names the events ``write`` handles, so the runner skips the others
    without decoding them; ``write`` applies one batch inside the caller's transaction,
    taking the rows it folds from the runner's cache of what it committed before.

    ``runs_alone``: a projection whose rows are sent to the outside world (the
    notifications): run by its own command, not by ``oms project`` without names, and
    never replayed (a rebuild would plan every message again).

    ``text_uuids``: the payload's uuid fields reach ``write`` as ``str`` (the
    ``originator_id`` stays a ``UUID``): for a projection that only writes them out,
    it saves building a UUID object per field (the largest cost of decoding).
    """

    name: str
    topics: tuple[str, ...]
    group: str
    migrations: tuple[str, ...]
    events: frozenset[str]
    write: Writer
    reads_dead_letters: bool = False
    runs_alone: bool = False
    text_uuids: bool = False
