"""An event written with an old schema version replays through an upcaster, via Kafka.

A test-local aggregate (``Bin``) and catalog: ``BinCounted`` version 1 had only
``count``; version 2 adds ``unit`` (Avro default "") and records ``class_version``.
Reading a version 1 record, Avro resolves it to the version 2 schema (unit="",
class_version=1) and the library's ``upcast_v1_v2`` then sets the real unit.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import InfrastructureFactory, StoredEvent
from eventsourcing.utils import Environment, get_topic
from fastavro import schemaless_writer

from oms_events import topics
from oms_events.avro.catalog import Catalog, default_catalog, load
from oms_events.avro.codec import SINGLE_OBJECT_MAGIC, SingleObjectCodec
from oms_events.eventstore import EventTypes, Factory, environment
from oms_events.settings import Settings
from tests.integration.engine.harness import read_topic

SCHEMAS = Path(__file__).parent / "schemas"
V1 = load(SCHEMAS / "released" / "BinCounted.avsc")


class Bin(Aggregate):
    """Test-only aggregate whose count event changed shape."""

    @event("BinOpened")
    def __init__(self, label: str) -> None:
        self.label = label
        self.counts: list[tuple[int, str]] = []

    class BinCounted(Aggregate.Event):
        class_version = 2
        count: int
        unit: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["unit"] = "each"  # version 1 counted single units

        def apply(self, aggregate: Aggregate) -> None:
            aggregate.counts.append((self.count, self.unit))  # type: ignore[attr-defined]

    def count(self, count: int, unit: str) -> None:
        self.trigger_event(self.BinCounted, count=count, unit=unit)


def _catalog() -> Catalog:
    catalog = Catalog(SCHEMAS / "current")
    for schema in default_catalog().by_name.values():
        catalog.add(schema)
    catalog.add_old_writer(V1)  # events on Kafka are forever: old writers stay readable
    return catalog


TYPES = EventTypes(
    aggregates={"inventory": Bin},
    events={"inventory": {"BinOpened": Bin.BinOpened, "BinCounted": Bin.BinCounted}},  # type: ignore[attr-defined]
)
CODEC = SingleObjectCodec(_catalog())


class Bins(Application[UUID]):
    def construct_factory(self, env: Environment) -> InfrastructureFactory:
        return Factory(env, types=TYPES, codec=CODEC)


def _v1_value(bin_id: UUID, version: int, count: int, when: Any) -> bytes:
    # What the previous release's writer put on Kafka.
    body = io.BytesIO()
    record = {
        "originator_id": bin_id,
        "originator_version": version,
        "timestamp": when,
        "count": count,
    }
    schemaless_writer(body, V1.parsed, record)
    return SINGLE_OBJECT_MAGIC + V1.fingerprint + body.getvalue()


def test_old_event_version_replays_through_the_upcaster(store_settings: Settings) -> None:
    env = environment(store_settings, OMS_EVENTSTORE_TYPES="inventory")
    app = Bins(env=env)
    bin_ = Bin(label="A-01")
    app.save(bin_)
    app.recorder.insert_events(
        [
            StoredEvent(
                originator_id=bin_.id,
                originator_version=2,
                topic=get_topic(Bin.BinCounted),
                state=_v1_value(bin_.id, 2, 4, bin_.modified_on),
            )
        ]
    )
    current: Bin = app.repository.get(bin_.id)
    current.count(5, "box")
    app.save(current)
    app.close()

    # The topic really holds one record of each writer version of BinCounted.
    records = read_topic(store_settings, topics.name(store_settings, topics.events("inventory")))
    fingerprints = [r.value[2:10] for r in records]
    assert fingerprints[1] == V1.fingerprint
    assert fingerprints[2] == CODEC.catalog.get("oms.inventory.BinCounted").fingerprint
    assert fingerprints[1] != fingerprints[2]

    reader = Bins(env=env)
    replayed: Bin = reader.repository.get(bin_.id)
    assert replayed.counts == [(4, "each"), (5, "box")]
    assert replayed.version == 3
    reader.close()
