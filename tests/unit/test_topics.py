"""The topic registry matches DESIGN.md's contract."""

from __future__ import annotations

import pytest

from oms_events import topics
from oms_events.settings import Settings
from oms_events.topics import AGGREGATE_TYPES, Kind, registry


def test_every_design_topic_is_declared() -> None:
    names = {s.name for s in registry(Settings())}
    for t in AGGREGATE_TYPES:
        assert f"oms.{t}.commands" in names
        assert f"oms.{t}.events" in names
    for fixed in (
        "oms.allocations",
        "oms.warehouse.updates",
        "oms.carrier.updates",
        "oms.notifications",
        "oms.deadletter",
    ):
        assert fixed in names
    assert any(n.startswith("oms.intake.") for n in names)


def test_event_topics_are_forever_and_never_compacted() -> None:
    for spec in registry(Settings()):
        if spec.kind is Kind.EVENTS:
            assert spec.config["retention.ms"] == "-1"
            assert spec.config["cleanup.policy"] == "delete"
        if spec.kind is Kind.SNAPSHOTS:
            assert spec.config["cleanup.policy"] == "compact"


def test_commands_and_events_share_partition_count() -> None:
    specs = {s.name: s for s in registry(Settings().replace(kafka={"partitions": 12}))}
    for t in AGGREGATE_TYPES:
        assert specs[topics.commands(t)].partitions == specs[topics.events(t)].partitions == 12


def test_prefix_applies_to_every_name() -> None:
    assert all(
        s.name.startswith("x.") for s in registry(Settings().replace(kafka={"topic_prefix": "x."}))
    )


def test_unknown_aggregate_type_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="order, inventory"):
        topics.commands("orders")
    with pytest.raises(ValueError, match="order, inventory"):
        topics.events("Order.Events")


def test_an_event_store_application_type_has_events_and_snapshots_topics() -> None:
    # The event store's default type for classes the project does not know.
    assert topics.events(Settings().eventstore.default_type) == "oms.app.events"
    assert [s.name for s in topics.store_registry(Settings(), ["app"])] == [
        "oms.app.events",
        "oms.app.snapshots",
    ]
    with pytest.raises(ValueError):
        topics.events("intake")  # another family of topics, not an aggregate type


def test_the_event_store_creates_an_engine_types_topics_as_the_registry_declares_them() -> None:
    # Same partitions and retention either way: whoever creates the log first wins.
    declared = {s.name: s for s in registry(Settings())}
    for spec in topics.store_registry(Settings(), list(AGGREGATE_TYPES)):
        assert spec == declared[spec.name]


def test_every_channel_has_a_compacted_dedup_changelog() -> None:
    specs = {s.name: s for s in registry(Settings())}
    for channel in topics.CHANNELS:
        spec = specs[topics.intake_dedup(channel)]
        assert spec.kind is Kind.STATE
        assert spec.config["cleanup.policy"] == "compact"
        assert spec.config["retention.ms"] == "-1"
