"""Following a topic from its current end in a thread: how the simulation and the
benchmark see the engine's output as it is committed."""

from __future__ import annotations

import threading
from collections.abc import Callable

from oms_events.kafka.connection import consumer
from oms_events.kafka.port import Record, TopicPartition
from oms_events.settings import Settings


class Follower(threading.Thread):
    """Reads every partition of one topic from its current end (read_committed),
    handing each record to ``on_record`` until ``stop`` is set."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        on_record: Callable[[Record], None],
        stop: threading.Event,
        fetch_max_wait_ms: int | None = None,
    ) -> None:
        """``fetch_max_wait_ms``: the engine's (``OMS_ENGINE_FETCH_MAX_WAIT_MS``) unless
        given. A read_committed fetch returns as soon as a transaction's records are
        committed, so a short wait adds no promptness, only empty fetches: 10 ms made the
        benchmark's three followers half of the broker's fetches."""
        super().__init__(daemon=True, name=f"follow-{topic}")
        self.stop_event, self.on_record = stop, on_record
        wait = settings.engine.fetch_max_wait_ms if fetch_max_wait_ms is None else fetch_max_wait_ms
        self.c = consumer(settings, group_id=None, fetch_max_wait_ms=wait)
        parts = [TopicPartition(topic, n) for n in sorted(self.c.partitions_for_topic(topic))]
        self.c.assign(parts)
        self.c.seek_to_end(*parts)  # fixes the start now, before anything is published

    def run(self) -> None:
        """Hand every record over until stopped."""
        try:
            while not self.stop_event.is_set():
                for records in self.c.poll(timeout_ms=100).values():
                    for r in records:
                        self.on_record(r)
        finally:
            self.c.close()
