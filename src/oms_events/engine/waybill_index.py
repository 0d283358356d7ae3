"""The waybill index: which shipment or return a carrier's tracking number belongs to.

Carriers key their scans by tracking number; our commands go to a shipment or a
return by id. The :class:`WaybillWatcher` thread learns the pairs from the events
that announce a parcel — ``ShipmentShipped`` on ``oms.shipment.events`` (the owner is
the event's originator) and ``ReturnShipped`` on ``oms.return.events`` (the owner is
the return) — reading every partition from ``OMS_ENGINE_WAYBILL_WINDOW_DAYS`` back,
then following. It also reads ``oms.carrier.parked``, the scans the carrier adapter
holds for tracking numbers not known yet, so that whichever engine process owns a
partition of ``oms.carrier.updates`` finds the scans parked there.

Why a watcher over the event topics, and not a compacted index topic of our own: the
events already are the durable truth, written once by their one writer; a second
topic would have to be written in the shipment's and the return's transactions (two
services' code changed for the adapter's sake) and could drift from them. The price
is memory (one entry per parcel of the window: 253 bytes measured, 24 MiB per 100k
parcels, so the default 60 days at 20k parcels a day is about 290 MiB: shorten
OMS_ENGINE_WAYBILL_WINDOW_DAYS for more) and a read of the window at start; the stock
watcher makes the same trade for the same reasons.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

import structlog

from oms_events import eventlog, topics
from oms_events.avro.codec import Codec
from oms_events.carriers import generic
from oms_events.carriers.scan import PushRefused, Scan, carrier_code
from oms_events.deadletter import Source
from oms_events.kafka.connection import consumer
from oms_events.kafka.port import Record, TopicPartition
from oms_events.settings import Settings

log = structlog.get_logger(__name__)

# Headers of a parked scan (its value is the scan as a generic push).
FIRST_SEEN = "parked.first_seen_ms"
SOURCE_TOPIC = "parked.source.topic"
SOURCE_PARTITION = "parked.source.partition"
SOURCE_OFFSET = "parked.source.offset"


@dataclass(frozen=True, slots=True)  # one per parcel of the window: no __dict__
class Owner:
    """Whose parcel a tracking number is: a shipment's, or a return's."""

    kind: Literal["shipment", "return"]
    id: UUID


@dataclass(frozen=True)
class ParkedScan:
    """A scan held until its tracking number is known, and where it was first read."""

    scan: Scan
    first_seen_ms: int
    source: Source


def parked_key(scan: Scan) -> bytes:
    """A scan's key on ``oms.carrier.parked``: the same scan parked twice is one entry."""
    at = scan.occurred_at.timestamp()
    return f"{scan.carrier}|{scan.tracking_no}|{scan.status}|{at:.3f}".encode()


class WaybillIndex:
    """(carrier, tracking number) -> owner, and the parked scans per partition.

    Written by the watcher thread, read by the carrier adapter's processor thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[str, Owner] = {}  # "carrier|tracking number" -> owner
        self._parked: dict[int, dict[bytes, ParkedScan]] = {}

    def learn(self, carrier: str, tracking_no: str, owner: Owner) -> None:
        """A parcel was handed to ``carrier`` under ``tracking_no`` (a reused number:
        the newest owner wins)."""
        with self._lock:
            self._owners[f"{carrier_code(carrier)}|{tracking_no.strip()}"] = owner

    def owner(self, carrier: str, tracking_no: str) -> Owner | None:
        """The parcel's owner, or None when nothing shipped under that waybill yet."""
        with self._lock:
            return self._owners.get(f"{carrier_code(carrier)}|{tracking_no.strip()}")

    def park(self, partition: int, key: bytes, parked: ParkedScan) -> None:
        """A parked scan was committed on ``partition``."""
        with self._lock:
            self._parked.setdefault(partition, {})[key] = parked

    def settle(self, partition: int, key: bytes) -> None:
        """A parked scan's tombstone was committed."""
        with self._lock:
            self._parked.get(partition, {}).pop(key, None)

    def parked_in(self, partition: int) -> list[tuple[bytes, ParkedScan]]:
        """The scans parked on ``partition`` now."""
        with self._lock:
            return list(self._parked.get(partition, {}).items())

    def __len__(self) -> int:
        with self._lock:
            return len(self._owners)


class WaybillWatcher(threading.Thread):
    """Keeps a :class:`WaybillIndex` current (see the module doc)."""

    def __init__(
        self,
        settings: Settings,
        codec: Codec,
        index: WaybillIndex,
        stop: threading.Event,
        fetch_max_wait_ms: int = 500,
    ) -> None:
        super().__init__(name="waybill-watcher", daemon=True)
        self.settings, self.index, self.stop_event = settings, index, stop
        self.events = eventlog.EventLog(codec, settings=settings)
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.caught_up = threading.Event()
        self.error: BaseException | None = None
        self.shipments = topics.name(settings, topics.events("shipment"))
        self.returns = topics.name(settings, topics.events("return"))
        self.parked = topics.name(settings, topics.CARRIER_PARKED)

    def run(self) -> None:
        """Read the window (and every parked scan), then follow; ``caught_up`` is set at
        the first end."""
        c = consumer(
            self.settings,
            group_id=None,
            client_id="oms-waybill-watcher",
            fetch_max_wait_ms=self.fetch_max_wait_ms,
        )
        try:
            n = self.settings.kafka.partitions
            kinds = (self.shipments, self.returns)
            events = [TopicPartition(t, p) for t in kinds for p in range(n)]
            parked = [TopicPartition(self.parked, p) for p in range(n)]
            c.assign(events + parked)
            end = c.end_offsets(events + parked)
            window_ms = int(self.settings.engine.waybill_window_days * 86_400_000)
            since = int(time.time() * 1000) - window_ms
            for tp, offset in c.offsets_for_times({tp: since for tp in events}).items():
                c.seek(tp, end[tp] if offset is None else offset)
            c.seek_to_beginning(*parked)
            while not self.stop_event.is_set():
                for records in c.poll(timeout_ms=100, max_records=5000).values():
                    for r in records:
                        self._apply(r)
                if not self.caught_up.is_set() and all(c.position(tp) >= end[tp] for tp in end):
                    log.info("waybill index caught up", parcels=len(self.index))
                    self.caught_up.set()
        except Exception as exc:
            self.error = exc
            log.exception("waybill watcher failed")
        finally:
            self.caught_up.set()
            c.close()

    def _apply(self, r: Record) -> None:
        if r.topic == self.parked:
            self._parked(r)
            return
        name = eventlog.header(r.headers, "event")
        if name not in ("ShipmentShipped", "ReturnShipped"):
            return
        e = self.events.record(r)
        kind: Literal["shipment", "return"] = "shipment" if r.topic == self.shipments else "return"
        carrier, tracking_no = e.payload.get("carrier"), e.payload.get("tracking_no")
        if carrier and tracking_no:
            self.index.learn(carrier, tracking_no, Owner(kind, e.originator_id))

    def _parked(self, r: Record) -> None:
        key = r.key or b""
        if not r.value:
            self.index.settle(r.partition, key)
            return
        try:
            (scan,) = generic.parse(r.value)
        except (PushRefused, ValueError):
            log.warning("unreadable parked scan skipped", key=key.decode(errors="replace"))
            return

        def number(name: str) -> int:
            return int(eventlog.header(r.headers, name) or -1)

        source = Source(
            eventlog.header(r.headers, SOURCE_TOPIC) or "",
            number(SOURCE_PARTITION),
            number(SOURCE_OFFSET),
        )
        self.index.park(r.partition, key, ParkedScan(scan, number(FIRST_SEEN), source))
