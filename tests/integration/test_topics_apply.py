"""`oms topics apply` creates every registry topic once and refuses drift."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import confluent_kafka
import pytest

from oms_events.kafka.admin import apply_topics
from oms_events.kafka.connection import admin
from oms_events.kafka.errors import TopicDrift
from oms_events.kafka.port import NewTopic
from oms_events.kafka.security import client_security
from oms_events.settings import Settings
from oms_events.topics import Kind, registry
from tests.integration.engine.harness import wait_for


def test_apply_creates_every_topic_then_is_idempotent(isolated: Settings) -> None:
    first = apply_topics(isolated)
    assert {s.action for s in first} == {"created"}
    second = apply_topics(isolated)
    assert {s.action for s in second} == {"ok"}
    assert [s.name for s in second] == [s.name for s in registry(isolated)]


def test_event_topics_keep_events_forever(isolated: Settings) -> None:
    apply_topics(isolated)
    events = [s.name for s in registry(isolated) if s.kind is Kind.EVENTS]
    client = admin(isolated)
    try:
        configs = client.topic_configs(events)
    finally:
        client.close()
    for name in events:
        assert configs[name]["retention.ms"] == "-1", name
        assert configs[name]["cleanup.policy"] == "delete", name


def test_raw_input_is_kept_the_privacy_bound_and_a_changed_bound_is_applied(
    isolated: Settings,
) -> None:
    """Channels' raw orders and dead letters cannot be sealed: their topics keep records
    OMS_PRIVACY_RAW_RETENTION_DAYS, and apply sets a new bound on the existing topics."""
    apply_topics(isolated.replace(privacy={"raw_retention_days": 30}))
    states = apply_topics(isolated)
    raw = [
        s.name
        for s in registry(isolated)
        if s.kind in (Kind.INTAKE, Kind.DEADLETTER) or s.name.endswith(".carrier.updates")
    ]
    assert {s.name for s in states if s.action == "updated"} == set(raw)
    client = admin(isolated)

    def retention() -> set[str]:
        configs = client.topic_configs(raw)
        return {configs[name]["retention.ms"] for name in raw}

    try:
        # A broker answers from its copy of the metadata, which follows within moments.
        assert wait_for(lambda: retention() == {str(7 * 86_400_000)}, 15, 0.2), retention()
    finally:
        client.close()


def test_wrong_partition_count_is_an_error_not_a_fix(isolated: Settings) -> None:
    spec = registry(isolated)[0]
    client = admin(isolated)
    try:
        client.create_topics([NewTopic(spec.name, spec.partitions + 1, 1)])
    finally:
        client.close()
    with pytest.raises(TopicDrift, match=f"{spec.name}: {spec.partitions + 1} partitions"):
        apply_topics(isolated)
    client = admin(isolated)
    try:
        still = client.describe_topics([spec.name])
    finally:
        client.close()
    assert still == {spec.name: spec.partitions + 1}


def kcat_environment() -> dict[str, str]:
    """kcat on the librdkafka of the confluent-kafka wheel, as the README says: Debian
    12's kcat is built on librdkafka 2.0.2, whose SCRAM final message Kafka 4 refuses
    (librdkafka#4895, fixed in 2.6.1)."""
    libs = Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs"
    found = sorted(libs.glob("librdkafka-*.so*"))
    return {**os.environ, "LD_PRELOAD": str(found[0])} if found else dict(os.environ)


def test_kcat_lists_every_registry_topic(isolated: Settings) -> None:
    apply_topics(isolated)
    listing = subprocess.run(
        [
            "kcat",
            "-b",
            isolated.kafka.bootstrap_servers,
            *[f"-X{k}={v}" for k, v in client_security(isolated).librdkafka().items()],
            "-L",
        ],
        env=kcat_environment(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for spec in registry(isolated):
        assert f'topic "{spec.name}"' in listing
