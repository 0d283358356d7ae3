"""State as of an instant: an aggregate folded from the events recorded up to then."""

from __future__ import annotations

from datetime import datetime
from itertools import takewhile
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate


def aggregate_as_of(app: Application[Any], aggregate_id: UUID, when: datetime) -> Aggregate:
    """The aggregate as it was at ``when``: its events with timestamp <= ``when``, folded.

    An aggregate's events are in version order and their timestamps grow with
    it, so folding stops at the first later event. Snapshots are not used: they
    are indexed by version, not time. (For a version, use the library's
    ``app.repository.get(aggregate_id, version=n)``.)
    """
    if when.tzinfo is None:
        raise ValueError("when must be timezone-aware (event timestamps are UTC)")
    aggregate: Aggregate | None = None
    events = app.repository.event_store.get(aggregate_id)
    for event in takewhile(lambda e: cast(Any, e).timestamp <= when, events):
        aggregate = cast(Any, event).mutate(aggregate)
    if aggregate is None:
        raise AggregateNotFoundError(f"aggregate {aggregate_id} has no events at or before {when}")
    return aggregate
