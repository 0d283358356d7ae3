"""The carrier simulator's Kafka loop: follow hand-overs, push scans when due.

It reads, from their current end, ``oms.order.events``, ``oms.shipment.events`` and
``oms.return.events`` (a customer's return parcel: ReturnShipped) (and,
when the topic registry declares it, the carriers' interception requests), hands each
event to :class:`~oms_events.carriersim.carriers.Carriers`, and publishes what it says
is due on ``oms.carrier.updates`` (key: tracking number). One thread reads and pushes,
so no state is shared.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import structlog

from oms_events import eventlog, topics
from oms_events.avro.codec import Codec
from oms_events.carriersim.carriers import Carriers
from oms_events.kafka.connection import consumer, producer
from oms_events.kafka.port import TopicPartition
from oms_events.settings import Settings

log = structlog.get_logger(__name__)


class CarrierSimulator:
    """Every carrier at once, for the engine reachable through ``settings``."""

    def __init__(self, settings: Settings, codec: Codec) -> None:
        self.settings, self.codec = settings, codec
        self.carriers = Carriers(settings.carriersim)
        self.events = eventlog.EventLog(codec, settings=settings)
        self.updates_topic = topics.name(settings, topics.CARRIER_UPDATES)
        self.ready = threading.Event()  # set once it reads from the topics' ends

    def _request_topic(self) -> str | None:
        # Interception requests arrive on a topic the registry may not have yet.
        base = getattr(topics, "CARRIER_REQUESTS", None)
        return topics.name(self.settings, base) if isinstance(base, str) else None

    def run(self, stop: threading.Event) -> None:
        """Follow the events from their current end and push scans until ``stop``."""
        s = self.settings
        c = consumer(s, group_id=None, client_id="oms-carrier-simulator", fetch_max_wait_ms=100)
        followed = ("order", "shipment", "return")
        event_topics = {topics.name(s, topics.events(t)) for t in followed}
        requests = self._request_topic()
        out = producer(s)
        wanted = sorted(event_topics | ({requests} if requests else set()))
        try:
            parts = [
                TopicPartition(t, n) for t in wanted for n in sorted(c.partitions_for_topic(t))
            ]
            c.assign(parts)
            c.seek_to_end(*parts)
            for tp in parts:
                c.position(tp)  # fix the start now, before anything is published
            self.ready.set()
            while not stop.is_set():
                wait = 100
                due = self.carriers.next_due()
                if due is not None:
                    wait = max(0, min(wait, int((due - time.monotonic()) * 1000)))
                for records in c.poll(timeout_ms=wait).values():
                    for r in records:
                        self._on_record(r, requests)
                pushes = self.carriers.pushes_due(time.monotonic(), datetime.now(UTC))
                for push in pushes:
                    out.send(
                        self.updates_topic,
                        key=push.tracking_no.encode(),
                        value=push.value,
                        headers=[("format", push.format.encode())],
                    )
                if pushes:
                    out.flush()
        finally:
            self.ready.set()
            c.close()
            out.flush()
            out.close()

    def _on_record(self, r: Any, requests: str | None) -> None:
        now = time.monotonic()
        if requests is not None and r.topic == requests:
            tracking_no = _tracking_no(r.value, self.codec)
            if tracking_no:
                self.carriers.on_intercept(tracking_no, now)
            return
        name = eventlog.header(r.headers, "event")
        if name not in _FOLLOWED:
            return
        try:
            self.carriers.on_event(self.events.record(r), now)
        except Exception:  # a carrier never stops for one bad record
            log.warning("carrier simulator skipped an event", event=name, exc_info=True)


_FOLLOWED = frozenset(
    {
        "OrderPlaced",
        "OrderCancelled",
        "OrderRejected",
        "ShipmentCreated",
        "ShipmentShipped",
        "ReturnShipped",
    }
)


def _tracking_no(value: bytes, codec: Codec) -> str | None:
    """The waybill of an interception request, JSON or Avro (whichever the request
    topic speaks), or None."""
    try:
        body: Any = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        try:
            _, body = codec.decode(value)
        except Exception:
            return None
    if not isinstance(body, dict):
        return None
    found = body.get("tracking_no") or body.get("mailno")
    return str(found) if found else None
