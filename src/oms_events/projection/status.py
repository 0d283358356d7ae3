"""How far behind each projection is: lag per partition and age of its last event.

``render_prometheus`` gives the same figures in the Prometheus text format, for a
scrape endpoint or a node-exporter textfile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from oms_events import topics
from oms_events.kafka.connection import consumer
from oms_events.kafka.port import TopicPartition
from oms_events.projection.spec import Projection
from oms_events.settings import Settings


@dataclass(frozen=True)
class PartitionLag:
    """One partition of one projection: stored offset, end offset, lag, last event."""

    projection: str
    topic: str
    partition: int
    stored: int
    end: int
    last_event_at: datetime | None

    @property
    def lag(self) -> int:
        """Records on Kafka not yet applied."""
        return max(0, self.end - self.stored)


def lags(
    settings: Settings,
    conn: psycopg.Connection[Any],
    schema: str,
    projections: Sequence[Projection],
) -> list[PartitionLag]:
    """Every partition of ``projections``: what the database holds against Kafka's end."""
    stored: dict[tuple[str, str, int], tuple[int, datetime | None]] = {}
    exists = conn.execute("SELECT to_regclass(%s)", (f'"{schema}".projection_offset',)).fetchone()
    if exists and exists[0]:
        for p, t, n, o, at in conn.execute(
            sql.SQL(
                "SELECT projection, topic, partition, next_offset, last_event_at "
                "FROM {}.projection_offset"
            ).format(sql.Identifier(schema))
        ):
            stored[(p, t, n)] = (o, at)
    c = consumer(settings, group_id=None, client_id="oms-status")
    try:
        wanted: list[tuple[str, TopicPartition]] = []
        for p in projections:
            for base in p.topics:
                topic = topics.name(settings, base)
                for n in sorted(c.partitions_for_topic(topic)):
                    wanted.append((p.name, TopicPartition(topic, n)))
        ends = c.end_offsets([tp for _, tp in wanted]) if wanted else {}
    finally:
        c.close()
    out = []
    for name, tp in wanted:
        offset, at = stored.get((name, tp.topic, tp.partition), (0, None))
        out.append(PartitionLag(name, tp.topic, tp.partition, offset, ends[tp], at))
    return out


def age_seconds(
    rows: Sequence[PartitionLag], now: datetime | None = None
) -> dict[str, float | None]:
    """Per projection: seconds since the newest event it applied (None if it applied none)."""
    now = now or datetime.now(UTC)
    newest: dict[str, datetime | None] = {}
    for r in rows:
        current = newest.get(r.projection)
        if r.last_event_at is not None and (current is None or r.last_event_at > current):
            newest[r.projection] = r.last_event_at
        else:
            newest.setdefault(r.projection, None)
    return {p: (now - at).total_seconds() if at else None for p, at in newest.items()}


def _labels(**labels: object) -> str:
    inner = ",".join(
        f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in labels.items()
    )
    return "{" + inner + "}"


def _partition(r: PartitionLag) -> str:
    return _labels(projection=r.projection, topic=r.topic, partition=r.partition)


def render_prometheus(rows: Sequence[PartitionLag], now: datetime | None = None) -> str:
    """The figures of ``oms status`` in the Prometheus text exposition format."""
    lines = [
        "# HELP oms_projection_lag_records Records on Kafka not yet applied "
        "(end offset - stored offset).",
        "# TYPE oms_projection_lag_records gauge",
    ]
    lines += [f"oms_projection_lag_records{_partition(r)} {r.lag}" for r in rows]
    lines += [
        "# HELP oms_projection_offset Next offset the projection will read.",
        "# TYPE oms_projection_offset gauge",
    ]
    lines += [f"oms_projection_offset{_partition(r)} {r.stored}" for r in rows]
    lines += [
        "# HELP oms_projection_last_event_age_seconds Seconds since the newest event applied.",
        "# TYPE oms_projection_last_event_age_seconds gauge",
    ]
    lines += [
        f"oms_projection_last_event_age_seconds{_labels(projection=p)} {age:.3f}"
        for p, age in age_seconds(rows, now).items()
        if age is not None
    ]
    return "\n".join(lines) + "\n"
