"""Snapshots on oms.<type>.snapshots, and state as of a version or an instant."""

from __future__ import annotations

from typing import Any

from oms_events import topics
from oms_events.eventstore import aggregate_as_of
from oms_events.settings import Settings
from tests.integration.engine.harness import read_topic
from tests.integration.eventstore.warehouse import warehouse


def test_loading_reads_the_snapshot_and_only_later_events(store_settings: Settings) -> None:
    writer = warehouse(store_settings, IS_SNAPSHOTTING_ENABLED="y")
    item_id = writer.register("SKU-S", "SH-02")
    for quantity in range(1, 6):
        writer.receive(item_id, quantity)
    snapshot_version = writer.item(item_id).version
    writer.take_snapshot(item_id)
    writer.receive(item_id, 100)
    writer.receive(item_id, 200)
    writer.close()

    snapshots = read_topic(
        store_settings, topics.name(store_settings, topics.snapshots("inventory"))
    )
    assert len(snapshots) == 1

    reader = warehouse(store_settings, IS_SNAPSHOTTING_ENABLED="y")
    assert reader.snapshots is not None
    calls: list[tuple[dict[str, Any], int]] = []
    select = reader.events.recorder.select_events

    def spy(originator_id: Any, **kwargs: Any) -> Any:
        found = select(originator_id, **kwargs)
        calls.append((kwargs, len(found)))
        return found

    reader.events.recorder.select_events = spy  # type: ignore[method-assign]
    item = reader.item(item_id)
    assert item.on_hand == sum(range(1, 6)) + 300
    assert item.version == snapshot_version + 2
    assert calls == [({"gt": snapshot_version, "lte": None, "desc": False, "limit": None}, 2)]
    reader.close()


def test_time_travel_by_version_and_by_timestamp(store_settings: Settings) -> None:
    app = warehouse(store_settings)
    item_id = app.register("SKU-T", "SH-03")
    for quantity in (10, 20, 30):
        app.receive(item_id, quantity)
    events = list(app.repository.event_store.get(item_id))
    assert len(events) == 4

    assert app.item(item_id, version=2).on_hand == 10
    assert app.item(item_id, version=3).on_hand == 30
    assert app.item(item_id).on_hand == 60

    as_of = aggregate_as_of(app, item_id, events[2].timestamp)  # type: ignore[attr-defined]
    assert (as_of.version, as_of.on_hand) == (3, 30)  # type: ignore[attr-defined]
    before_last = events[3].timestamp - (events[3].timestamp - events[2].timestamp) / 2  # type: ignore[attr-defined]
    assert aggregate_as_of(app, item_id, before_last).version == 3
    assert aggregate_as_of(app, item_id, events[0].timestamp).on_hand == 0  # type: ignore[attr-defined]
    app.close()
