"""Domain events onto their topics exactly as the engine writes them (one producer
transaction per batch): the input of the projection benchmark and of the projection
tests, which import it from here (``bench`` never imports ``tests``)."""

from __future__ import annotations

import uuid
from typing import Any

from oms_events import eventlog, topics
from oms_events.avro.codec import SingleObjectCodec
from oms_events.domain.events import event_name
from oms_events.kafka.connection import admin, producer
from oms_events.kafka.port import Producer
from oms_events.settings import Settings


def produce(settings: Settings, events: list[Any], per_transaction: int = 1000) -> None:
    """Write domain events to their ``oms.<type>.events`` topics as the engine does."""
    log = eventlog.EventLog(SingleObjectCodec(), settings=settings)
    p: Producer = producer(settings, transactional_id=f"test-{uuid.uuid4()}")
    p.init_transactions()
    for start in range(0, len(events), per_transaction):
        p.begin_transaction()
        for event in events[start : start + per_transaction]:
            topic = topics.name(settings, topics.events(event_name(type(event))[0]))
            key, value, headers = log.encode(event)
            p.send(
                topic,
                key=key,
                value=value,
                headers=headers,
            )
        p.commit_transaction()
    p.close()


def drop_topics(settings: Settings) -> None:
    """Delete every topic under ``settings``' topic prefix: what a run made for itself."""
    client = admin(settings)
    try:
        prefix = settings.kafka.topic_prefix
        names = [n for n in client.list_topics() if n.startswith(prefix)]
        if names:
            client.delete_topics(names)
    finally:
        client.close()
