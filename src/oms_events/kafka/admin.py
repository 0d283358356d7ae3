"""Create or verify the registry's topics, idempotently.

A topic that exists with another partition count or configuration is drift: we
report it and change nothing, because repartitioning an event topic would move
aggregates between partitions and break the one-writer rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from oms_events.kafka.connection import admin
from oms_events.kafka.errors import TopicDrift
from oms_events.kafka.port import NewTopic
from oms_events.settings import Settings
from oms_events.topics import TopicSpec, min_insync_replicas, registry, replication_factor


@dataclass(frozen=True)
class TopicState:
    """What ``apply`` did or found for one topic."""

    name: str
    action: str  # "created" | "updated" (its retention set) | "ok"
    partitions: int


# Configuration a running topic may change in place: how long records are kept (the
# raw input's bound, OMS_PRIVACY_RAW_RETENTION_DAYS, is an operator's choice).
ADJUSTABLE = frozenset({"retention.ms"})


def apply_topics(settings: Settings, specs: list[TopicSpec] | None = None) -> list[TopicState]:
    """Create missing topics and verify existing ones against the registry.

    New topics get :func:`~oms_events.topics.replication_factor` copies for the brokers
    the cluster has now, and the matching ``min.insync.replicas``. An existing topic's
    retention is set to the registry's (:data:`ADJUSTABLE`); any other difference raises
    :class:`TopicDrift` listing every one found, and nothing is changed.
    """
    specs = specs if specs is not None else registry(settings)
    client = admin(settings)
    try:
        existing = client.describe_topics([s.name for s in specs])
        missing = [s for s in specs if s.name not in existing]
        if missing:
            factor = replication_factor(settings, client.broker_count())
            durable = {"min.insync.replicas": str(min_insync_replicas(factor))}
            client.create_topics(
                [NewTopic(s.name, s.partitions, factor, {**s.config, **durable}) for s in missing]
            )
        problems: list[str] = []
        present = [s for s in specs if s.name in existing]
        configs = client.topic_configs([s.name for s in present])
        changes: dict[str, dict[str, str]] = {}
        for s in present:
            have = existing[s.name]
            if have != s.partitions:
                problems.append(f"{s.name}: {have} partitions, registry says {s.partitions}")
            for key, want in s.config.items():
                got = configs.get(s.name, {}).get(key)
                if got is not None and got != want:
                    if key in ADJUSTABLE:
                        changes.setdefault(s.name, {})[key] = want
                    else:
                        problems.append(f"{s.name}: {key}={got}, registry says {want}")
        if problems:
            raise TopicDrift(
                "topics differ from the registry (nothing was changed; fix the topic or "
                "OMS_KAFKA_PARTITIONS): " + "; ".join(problems)
            )
        for name, config in changes.items():
            client.set_topic_config(name, config)
        return [
            TopicState(
                s.name,
                "created" if s in missing else "updated" if s.name in changes else "ok",
                s.partitions,
            )
            for s in specs
        ]
    finally:
        client.close()
