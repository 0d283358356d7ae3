"""Create or verify the registry's topics, idempotently.

A topic that exists with another partition count or configuration is drift: we
report it and change nothing, because repartitioning an event topic would move
aggregates between partitions and break the one-writer rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

from oms_events.kafka.connection import admin
from oms_events.kafka.errors import TopicDrift
from oms_events.settings import Settings
from oms_events.topics import TopicSpec, registry


@dataclass(frozen=True)
class TopicState:
    """What ``apply`` did or found for one topic."""

    name: str
    action: str  # "created" | "ok"
    partitions: int


def apply_topics(settings: Settings, specs: list[TopicSpec] | None = None) -> list[TopicState]:
    """Create missing topics and verify existing ones against the registry.

    Raises :class:`TopicDrift` listing every difference found.
    """
    specs = specs if specs is not None else registry(settings)
    client = admin(settings)
    try:
        existing = {
            d["name"]: d
            for d in client.describe_topics([s.name for s in specs])
            if d["error_code"] == 0
        }
        missing = [s for s in specs if s.name not in existing]
        if missing:
            client.create_topics(
                [
                    NewTopic(
                        s.name,
                        s.partitions,
                        settings.kafka.replication_factor,
                        topic_configs=dict(s.config),
                    )
                    for s in missing
                ],
                wait_for_metadata=True,
            )
        problems: list[str] = []
        present = [s for s in specs if s.name in existing]
        configs = _configs(client, [s.name for s in present]) if present else {}
        for s in present:
            have = len(existing[s.name]["partitions"])
            if have != s.partitions:
                problems.append(f"{s.name}: {have} partitions, registry says {s.partitions}")
            for key, want in s.config.items():
                got = configs.get(s.name, {}).get(key)
                if got is not None and got != want:
                    problems.append(f"{s.name}: {key}={got}, registry says {want}")
        if problems:
            raise TopicDrift(
                "topics differ from the registry (nothing was changed; fix the topic or "
                "OMS_KAFKA_PARTITIONS): " + "; ".join(problems)
            )
        return [
            TopicState(s.name, "created" if s in missing else "ok", s.partitions) for s in specs
        ]
    finally:
        client.close()


def _configs(client: object, names: list[str]) -> dict[str, dict[str, str]]:
    resources = [ConfigResource(ConfigResourceType.TOPIC, n, configs=None) for n in names]
    result = client.describe_configs(resources, config_filter="all")  # type: ignore[attr-defined]
    return {
        topic: {k: v["value"] for k, v in entries.items()}
        for topic, entries in result["topic"].items()
    }
