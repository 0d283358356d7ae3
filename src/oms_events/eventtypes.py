"""The event classes a reader and a writer know: which aggregate type an event belongs
to (so which Kafka topic it goes on), and which class a record of ``(aggregate type,
event name)`` becomes.

The library knows an event by its *class topic* (``module:Class.Event``); Kafka
knows it by ``(aggregate type, event name)`` in the record's headers and Avro
schema name. :class:`EventTypes` maps the two ways:

* a class in the registry (``oms_events.domain.events`` by default) is a domain
  event: it goes on ``oms.<type>.events`` in the eventlog format;
* a class nested in a registered aggregate (``module:InventoryItem.Whatever``,
  including ``...InventoryItem.Snapshot``, the topic our mapper gives snapshots)
  belongs to that aggregate's type;
* anything else (the library's conformance suite writes ``topic1`` and the like)
  belongs to the *default type* the application configured
  (``OMS_EVENTSTORE_DEFAULT_TYPE``, ``app`` unless set: topics ``oms.app.events`` and
  ``oms.app.snapshots``); set to empty, such events are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from eventsourcing.utils import get_topic

from oms_events import topics
from oms_events.domain.events import aggregate_classes, events_by_aggregate_type

SNAPSHOT = "Snapshot"  # event name (header) of snapshot records


class UnroutableEvent(ValueError):
    """An event class outside the registry, and no default aggregate type is configured."""


class EventTypes:
    """The aggregate types and event classes the store knows, by class topic and by name."""

    def __init__(
        self,
        aggregates: Mapping[str, type[Any]] | None = None,
        events: Mapping[str, Mapping[str, type[Any]]] | None = None,
        default_type: str | None = None,
    ) -> None:
        aggregates = aggregate_classes() if aggregates is None else aggregates
        events = events_by_aggregate_type() if events is None else events
        for aggregate_type in aggregates:
            topics.events(aggregate_type)  # raises on a name no topic can have
        if default_type is not None:
            topics.events(default_type)
        self.default_type = default_type
        self.types = tuple(aggregates)
        self._aggregate_type_of = {get_topic(cls): t for t, cls in aggregates.items()}
        self._aggregate_topic = {t: get_topic(cls) for t, cls in aggregates.items()}
        self._by_topic: dict[str, tuple[str, str]] = {}
        self._by_name: dict[tuple[str, str], str] = {}
        self._by_class: dict[type[Any], tuple[str, str]] = {}
        self._classes: dict[tuple[str, str], type[Any]] = {}
        for aggregate_type, classes in events.items():
            for name, cls in classes.items():
                topic = get_topic(cls)
                self._by_topic[topic] = (aggregate_type, name)
                self._by_name[(aggregate_type, name)] = topic
                self._by_class[cls] = (aggregate_type, name)
                self._classes[(aggregate_type, name)] = cls

    def with_default(self, default_type: str | None) -> EventTypes:
        """The same registry with another default type for unregistered events."""
        copy = object.__new__(EventTypes)
        copy.__dict__.update(self.__dict__)
        if default_type is not None:
            topics.events(default_type)
        copy.default_type = default_type
        return copy

    def name_of(self, cls: type[Any]) -> tuple[str, str]:
        """(aggregate type, event name) of a registered event class, else KeyError."""
        return self._by_class[cls]

    def event_class(self, aggregate_type: str, name: str) -> type[Any]:
        """The class of a record's (aggregate type, event name), else KeyError."""
        return self._classes[(aggregate_type, name)]

    def is_registered(self, cls: type[Any]) -> bool:
        """True for an event class the registry names (it has an Avro schema of its own)."""
        return cls in self._by_class

    def registered(self, class_topic: str) -> tuple[str, str] | None:
        """(aggregate type, event name) of a registered class topic, or None."""
        return self._by_topic.get(class_topic)

    def aggregate_type(self, class_topic: str) -> str:
        """The aggregate type whose topic an event of this class topic goes on."""
        found = self._by_topic.get(class_topic)
        if found is not None:
            return found[0]
        # "module:Aggregate.Nested" -> "module:Aggregate"
        module, _, qualname = class_topic.partition(":")
        owner = f"{module}:{qualname.split('.', 1)[0]}"
        if owner in self._aggregate_type_of:
            return self._aggregate_type_of[owner]
        if self.default_type is None:
            raise UnroutableEvent(
                f"event class {class_topic!r} is not in the domain registry and no default "
                "aggregate type is configured (set OMS_EVENTSTORE_DEFAULT_TYPE)"
            )
        return self.default_type

    def aggregate_topic(self, aggregate_type: str) -> str:
        """The class topic of an aggregate type's aggregate class."""
        return self._aggregate_topic[aggregate_type]

    def class_topic(self, aggregate_type: str, name: str) -> str:
        """The class topic of a record's (aggregate type, event name) headers."""
        if name == SNAPSHOT:
            return f"{self._aggregate_topic[aggregate_type]}.{SNAPSHOT}"
        return self._by_name[(aggregate_type, name)]


@cache
def domain_types() -> EventTypes:
    """The domain's registry (``oms_events.domain.events``), built once."""
    return EventTypes()
