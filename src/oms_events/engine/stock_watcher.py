"""The stock watcher: follows every ``oms.inventory.events`` partition into a StockView.

Sourcing decides from the view; this thread is the only part of it on Kafka.
"""

from __future__ import annotations

import threading

import structlog

from oms_events import eventlog, topics
from oms_events.avro.codec import Codec
from oms_events.engine.sourcing import FOLDED, StockView
from oms_events.kafka.connection import consumer
from oms_events.kafka.port import TopicPartition
from oms_events.settings import Settings

log = structlog.get_logger(__name__)


class StockWatcher(threading.Thread):
    """Keeps a :class:`StockView` current by reading every inventory events partition."""

    def __init__(
        self,
        settings: Settings,
        codec: Codec,
        view: StockView,
        stop: threading.Event,
        fetch_max_wait_ms: int = 500,
    ) -> None:
        super().__init__(name="stock-watcher", daemon=True)
        self.settings, self.codec, self.view, self.stop_event = settings, codec, view, stop
        self.events = eventlog.EventLog(codec, settings=settings)
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.caught_up = threading.Event()
        # Partition -> the offset read up to (past transaction markers): a what-if replay
        # waits for the events it caused before sourcing the next order from the view.
        self.positions: dict[int, int] = {}

    def run(self) -> None:
        """Read from the beginning, then follow; sets ``caught_up`` at the first end."""
        topic = topics.name(self.settings, topics.events("inventory"))
        c = consumer(
            self.settings,
            group_id=None,
            client_id="oms-stock-watcher",
            fetch_max_wait_ms=self.fetch_max_wait_ms,
        )
        try:
            parts = [TopicPartition(topic, n) for n in range(self.settings.kafka.partitions)]
            c.assign(parts)
            c.seek_to_beginning(*parts)
            end = c.end_offsets(parts)
            while not self.stop_event.is_set():
                for records in c.poll(timeout_ms=100, max_records=5000).values():
                    for r in records:
                        name = eventlog.header(r.headers, "event")
                        if name is not None and name not in FOLDED:
                            continue
                        self.view.apply(self.events.record(r))
                self.positions = {tp.partition: c.position(tp) for tp in parts}
                if not self.caught_up.is_set() and all(c.position(tp) >= end[tp] for tp in parts):
                    self.caught_up.set()
        except Exception:
            log.exception("stock watcher failed")
        finally:
            self.caught_up.set()
            c.close()
