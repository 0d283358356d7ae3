"""An eventsourcing Application on the Kafka store: save, reload, conflicts, atomicity."""

from __future__ import annotations

from typing import cast

import pytest
from eventsourcing.persistence import IntegrityError

from oms_events import eventlog, topics
from oms_events.avro.codec import SingleObjectCodec
from oms_events.domain import InventoryItem
from oms_events.eventstore import KafkaAggregateRecorder, WriterFenced
from oms_events.settings import Settings
from tests.integration.engine.harness import read_topic
from tests.integration.eventstore.warehouse import warehouse


def _events_topic(settings: Settings) -> str:
    return topics.name(settings, topics.events("inventory"))


def test_saved_item_reloads_in_a_fresh_application(store_settings: Settings) -> None:
    writer = warehouse(store_settings)
    item_id = writer.register("SKU-1", "SH-01", threshold=5)
    writer.receive(item_id, 12)
    writer.receive(item_id, 3, "transfer")
    expected = writer.item(item_id)
    writer.close()

    reader = warehouse(store_settings)  # rebuilds its index from the topic alone
    item = reader.item(item_id)
    assert (item.sku, item.location, item.on_hand, item.version) == (
        "SKU-1",
        "SH-01",
        15,
        expected.version,
    )
    assert item.is_low is False
    stored = [
        (type(e).__name__, e.originator_version) for e in reader.repository.event_store.get(item_id)
    ]
    reader.close()

    # On Kafka, the records are the eventlog format that projections read.
    codec = SingleObjectCodec()
    decoded = [
        eventlog.EventLog(codec).record(r)
        for r in read_topic(store_settings, _events_topic(store_settings))
    ]
    assert [(d.name, d.originator_version) for d in decoded] == stored
    assert decoded[0].name == "ItemRegistered"
    assert all(d.originator_id == item_id for d in decoded)


def test_conflicting_write_raises_and_leaves_nothing_visible(store_settings: Settings) -> None:
    app = warehouse(store_settings)
    item_id = app.register("SKU-2", "SH-01")
    first, stale = app.item(item_id), app.item(item_id)
    first.receive(10, "purchase order")
    app.save(first)

    other = InventoryItem.register("SKU-3", "SH-01")
    stale.receive(7, "written on a stale copy")
    # One save = one transaction: the new item must not land without the stale event.
    with pytest.raises(IntegrityError):
        app.save(other, stale)

    records = read_topic(store_settings, _events_topic(store_settings))
    codec = SingleObjectCodec()
    decoded = [eventlog.EventLog(codec).record(r) for r in records]
    assert sorted((d.originator_id, d.originator_version) for d in decoded) == [
        (item_id, 1),
        (item_id, 2),
    ]
    assert all(d.payload.get("reason") != "written on a stale copy" for d in decoded)
    assert other.id not in app.repository
    assert app.item(item_id).on_hand == 10
    app.close()


def test_failure_mid_transaction_aborts_the_whole_write(
    store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = warehouse(store_settings)
    item_id = app.register("SKU-4", "SH-01")
    item = app.item(item_id)
    item.receive(5, "a")
    item.receive(6, "b")
    recorder = app.recorder
    assert isinstance(recorder, KafkaAggregateRecorder)
    producer = recorder._producer
    assert producer is not None
    real_send = producer.send
    sent: list[object] = []

    def send_then_fail(*args: object, **kwargs: object) -> object:
        if sent:
            raise RuntimeError("broker went away mid-batch")
        sent.append(real_send(*args, **kwargs))  # type: ignore[arg-type]
        producer.flush()  # the first record is really on the log
        return sent[-1]

    monkeypatch.setattr(producer, "send", send_then_fail)
    with pytest.raises(RuntimeError):
        app.save(item)
    monkeypatch.undo()

    topic = _events_topic(store_settings)
    committed = [
        int(eventlog.header(r.headers, "version") or 0) for r in read_topic(store_settings, topic)
    ]
    uncommitted = read_topic(store_settings, topic, "read_uncommitted")
    assert committed == [1]
    assert len(uncommitted) == 2  # the aborted record reached the broker, unseen by readers
    assert app.item(item_id).on_hand == 0
    # The writer is still usable after the abort.
    app.receive(item_id, 4)
    assert app.item(item_id).on_hand == 4
    app.close()


def test_a_newer_instance_fences_the_older_writer(store_settings: Settings) -> None:
    old = warehouse(store_settings)
    item_id = old.register("SKU-5", "SH-01")
    new = warehouse(store_settings)  # same application name: same transactional id
    new.receive(item_id, 3)  # its first write fences the old instance

    stale = old.item(item_id)  # the old one catches up, so it sees version 2
    assert stale.on_hand == 3
    # Its own first write, indexed when it committed, was read back and skipped, not
    # counted as a second record of version 1.
    assert cast(KafkaAggregateRecorder, old.recorder).duplicates_seen == 0
    stale.receive(1, "from a zombie")
    with pytest.raises(WriterFenced):
        old.save(stale)

    versions = [
        int(eventlog.header(r.headers, "version") or 0)
        for r in read_topic(store_settings, _events_topic(store_settings))
    ]
    assert sorted(versions) == [1, 2]
    assert new.item(item_id).on_hand == 3
    old.close()
    new.close()


def test_a_writer_taking_over_refuses_a_version_its_predecessor_wrote(
    store_settings: Settings,
) -> None:
    # The new writer reads nothing before its first save: the version check must still
    # know what the instance it fenced committed (it catches up once, after fencing),
    # and then every save of its own (it reads no offsets before later writes).
    old = warehouse(store_settings)
    item_id = old.register("SKU-6", "SH-01")
    stale = old.item(item_id)  # version 1
    old.receive(item_id, 2)  # version 2, by the old writer
    new = warehouse(store_settings)  # same application name: same transactional id
    stale.receive(5, "written on a copy older than the old writer's last save")
    with pytest.raises(IntegrityError):
        new.save(stale)
    new.receive(item_id, 4)  # version 3, by the new writer
    again = new.item(item_id)
    mine = new.item(item_id)
    mine.receive(1, "first")
    new.save(mine)  # version 4
    again.receive(1, "second copy of version 3")
    with pytest.raises(IntegrityError):
        new.save(again)
    assert new.item(item_id).on_hand == 2 + 4 + 1
    versions = [
        int(eventlog.header(r.headers, "version") or 0)
        for r in read_topic(store_settings, _events_topic(store_settings))
    ]
    assert sorted(versions) == [1, 2, 3, 4]
    old.close()
    new.close()
