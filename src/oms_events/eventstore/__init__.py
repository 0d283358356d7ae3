"""An ``eventsourcing`` persistence module on Kafka: ``PERSISTENCE_MODULE=oms_events.eventstore``.

Each aggregate type's events go on ``oms.<type>.events`` keyed by aggregate id,
each Avro-encoded with its own schema by ``oms_events.eventlog``, the one event path
the engine and projections read through too;
snapshots on the compacted ``oms.<type>.snapshots``. One ``insert_events`` is one
Kafka transaction; a recorder checks versions against an in-memory index of its
topics (see ``recorder`` for why that is safe with one writer per partition).

Modules: ``factory`` (configuration), ``mapper`` (the library's stored events <->
``eventlog``), ``records`` (stored events <-> Kafka records), ``index`` (the in-memory
index), ``recorder`` (the recorders), ``timetravel`` (state as of an instant); the
registry of event classes is ``oms_events.eventtypes``.
"""

from __future__ import annotations

from oms_events.eventstore.factory import Factory, environment
from oms_events.eventstore.mapper import AvroMapper
from oms_events.eventstore.recorder import (
    KafkaAggregateRecorder,
    KafkaApplicationRecorder,
    WriterFenced,
)
from oms_events.eventstore.timetravel import aggregate_as_of
from oms_events.eventtypes import EventTypes, UnroutableEvent

__all__ = [
    "AvroMapper",
    "EventTypes",
    "Factory",
    "KafkaAggregateRecorder",
    "KafkaApplicationRecorder",
    "UnroutableEvent",
    "WriterFenced",
    "aggregate_as_of",
    "environment",
]
