"""The carrier updates adapter: ``oms.carrier.updates`` into shipment and return commands.

Carriers push tracking in their own formats, keyed by tracking number
(``oms_events.carriers``: SF, ZTO-style, JD, generic). For each record the adapter
reads the push into scans and routes each scan by the :class:`WaybillIndex`:

* a shipment's parcel -> ``RecordCarrierUpdate`` on ``oms.shipment.commands``
* a return's parcel -> ``RecordReturnParcelUpdate`` on ``oms.return.commands``
* a tracking number nothing has shipped under yet (the carrier scanned before the
  warehouse's ship confirmation reached us) -> parked on ``oms.carrier.parked``, in
  the same transaction; every timer tick the parked scans of the partitions this
  member owns are tried again, forwarded once their owner is known and dead-lettered
  as ``waybill.unknown`` after ``OMS_ENGINE_WAYBILL_WAIT_S``; either way a tombstone
  settles them. Parking on a topic (not in memory) is what keeps a held scan across a
  restart or a rebalance: the next owner of the partition finds it there.
* a push that cannot be read -> the dead-letter topic with the parser's reason.

A scan's command id is derived from the scan (carrier, tracking number, status, time),
so the same scan pushed twice, replayed by an operator, or forwarded from the parking
is applied once by the shipment (which also ignores repeated scans by their content).
"""

from __future__ import annotations

import time
from typing import Any

import structlog

from oms_events import topics
from oms_events.avro.codec import Codec
from oms_events.carriers import formats, generic
from oms_events.carriers.scan import PushRefused, Scan
from oms_events.deadletter import DeadLetter, Reason, Source, technical
from oms_events.engine.commands import (
    CodAmount,
    Command,
    RecordCarrierUpdate,
    RecordReturnParcelUpdate,
)
from oms_events.engine.handling import Outcome
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.records import Outgoing
from oms_events.engine.service import Service
from oms_events.engine.waybill_index import (
    FIRST_SEEN,
    SOURCE_OFFSET,
    SOURCE_PARTITION,
    SOURCE_TOPIC,
    Owner,
    ParkedScan,
    WaybillIndex,
    parked_key,
)
from oms_events.settings import Settings

log = structlog.get_logger(__name__)

PROCESSOR = "engine.carrier"


def command_for(scan: Scan, owner: Owner) -> Command:
    """The command that tells ``owner`` about ``scan``."""
    command_id = (
        f"carrier/{scan.carrier}/{scan.tracking_no}/{scan.status}/"
        f"{int(scan.occurred_at.timestamp() * 1000)}"
    )
    if owner.kind == "return":
        return RecordReturnParcelUpdate(
            command_id=command_id,
            return_id=owner.id,
            carrier=scan.carrier,
            tracking_no=scan.tracking_no,
            status=scan.status,
            occurred_at=scan.occurred_at,
            location=scan.location,
            reason=scan.reason,
        )
    cod = None
    if scan.cod_amount is not None and scan.cod_currency is not None:
        cod = CodAmount(amount=scan.cod_amount, currency=scan.cod_currency)
    return RecordCarrierUpdate(
        command_id=command_id,
        shipment_id=owner.id,
        carrier=scan.carrier,
        tracking_no=scan.tracking_no,
        status=scan.status,
        occurred_at=scan.occurred_at,
        location=scan.location,
        reason=scan.reason,
        eta=scan.eta,
        signer=scan.signer,
        cod_collected=cod,
    )


class CarrierAdapter(Service):
    """Stateless but for the waybill index it reads and the scans it parks."""

    name = "carrier"
    aggregate_type = None
    has_timers = True

    def __init__(self, index: WaybillIndex, settings: Settings, codec: Codec) -> None:
        self.handlers = {}
        self.index = index
        self.settings = settings
        self.codec = codec
        self.wait_ms = int(settings.engine.waybill_wait_s * 1000)
        self.parked_topic = topics.name(settings, topics.CARRIER_PARKED)
        self.deadletter_topic = topics.name(settings, topics.DEADLETTER)
        # Parked scans this member settled whose tombstone the watcher has not read back
        # yet (so a tick in between does not settle them twice); _settling: this
        # transaction's, final on commit.
        self._settled: set[bytes] = set()
        self._settling: set[bytes] = set()
        self.stats = {"scans": 0, "parked": 0, "unknown_waybills": 0, "refused": 0}

    def counters(self) -> dict[str, int]:
        """Scans read, parked, dead-lettered as unknown waybills; pushes refused."""
        return dict(self.stats)

    def input_topic(self) -> str:
        """Carriers publish here, keyed by tracking number."""
        return topics.CARRIER_UPDATES

    # --- one push ----------------------------------------------------------------------

    def step(self, record: Any, partition: Partition, out: Outbox) -> Outcome:
        """Read one push and route its scans; never raises for bad input."""
        source = Source(record.topic, record.partition, record.offset)
        try:
            scans = formats.parse(record.value, record.headers)
        except PushRefused as exc:
            self.stats["refused"] += 1
            reason = Reason(exc.code, exc.field, exc.en, exc.zh, type(exc).__name__)
            self._dead(out, record.key, record.value, record.headers, reason, source)
            return Outcome.DEAD
        except Exception as exc:  # a bug of ours: the push is kept, the partition moves on
            log.exception("carrier push failed", offset=record.offset)
            reason = technical("engine.error", exc)
            self._dead(out, record.key, record.value, record.headers, reason, source)
            return Outcome.DEAD
        now_ms = int(time.time() * 1000)
        for scan in scans:
            self.stats["scans"] += 1
            owner = self.index.owner(scan.carrier, scan.tracking_no)
            if owner is not None:
                out.command(command_for(scan, owner))
            elif self.wait_ms <= 0:
                self._unknown(out, ParkedScan(scan, now_ms, source))
            else:
                self._park(out, partition.number, ParkedScan(scan, now_ms, source))
        return Outcome.APPLIED

    def _park(self, out: Outbox, number: int, parked: ParkedScan) -> None:
        self.stats["parked"] += 1
        s = parked.source
        headers = [
            ("format", b"generic"),
            (FIRST_SEEN, str(parked.first_seen_ms).encode()),
            (SOURCE_TOPIC, s.topic.encode()),
            (SOURCE_PARTITION, str(s.partition).encode()),
            (SOURCE_OFFSET, str(s.offset).encode()),
        ]
        key = parked_key(parked.scan)
        out.add(Outgoing(self.parked_topic, key, generic.dump(parked.scan), headers, number))

    def _unknown(self, out: Outbox, parked: ParkedScan) -> None:
        # Counted when queued: an aborted transaction's count is off by its letters.
        self.stats["unknown_waybills"] += 1
        scan = parked.scan
        waited = max(0, int(time.time() * 1000) - parked.first_seen_ms) // 1000
        reason = Reason(
            "waybill.unknown",
            "tracking_no",
            f"no shipment or return shipped under {scan.carrier} {scan.tracking_no} "
            f"(waited {waited} s); check the warehouse's ship confirmation, then replay "
            "this scan with `oms carrier push --format generic`",
            f"没有以 {scan.carrier} {scan.tracking_no} 发出的发货单或退货（已等待 {waited} 秒）；"
            "请核对仓库的发货确认，然后用 `oms carrier push --format generic` 重放此扫描",
            "UnknownWaybill",
        )
        key = scan.tracking_no.encode()
        self._dead(out, key, generic.dump(scan), [], reason, parked.source)

    def _dead(
        self,
        out: Outbox,
        key: bytes | None,
        value: bytes | None,
        headers: Any,
        reason: Reason,
        source: Source,
    ) -> None:
        log.warning("dead letter", code=reason.code, message=reason.en, offset=source.offset)
        letter = DeadLetter(reason, source, PROCESSOR)
        out.add(Outgoing(self.deadletter_topic, key, value or b"", letter.headers(headers or [])))

    # --- the parked scans ----------------------------------------------------------------

    def _waiting(self, partitions: dict[int, Partition]) -> list[tuple[int, bytes, ParkedScan]]:
        found = [
            (number, key, parked)
            for number in partitions
            for key, parked in self.index.parked_in(number)
        ]
        live = {key for _, key, _ in found}
        self._settled &= live  # the watcher has read their tombstones
        return [entry for entry in found if entry[1] not in self._settled]

    def due(self, now: float, partitions: dict[int, Partition]) -> bool:
        """True when a parked scan's owner is known or its wait is over."""
        now_ms = int(now * 1000)
        return any(
            self.index.owner(p.scan.carrier, p.scan.tracking_no) is not None
            or now_ms - p.first_seen_ms >= self.wait_ms
            for _, _, p in self._waiting(partitions)
        )

    def tick(self, now: float, partitions: dict[int, Partition], out: Outbox) -> None:
        """Forward the parked scans whose owner is known now; dead-letter the expired."""
        now_ms = int(now * 1000)
        for number, key, parked in self._waiting(partitions):
            scan = parked.scan
            owner = self.index.owner(scan.carrier, scan.tracking_no)
            if owner is not None:
                out.command(command_for(scan, owner))
            elif now_ms - parked.first_seen_ms >= self.wait_ms:
                self._unknown(out, parked)
            else:
                continue
            out.add(Outgoing(self.parked_topic, key, None, [], number))
            self._settling.add(key)

    def committed(self) -> None:
        """The tombstones are written: those scans are settled."""
        self._settled |= self._settling
        self._settling = set()

    def aborted(self) -> None:
        """Nothing of the transaction happened: its scans are still parked."""
        self._settling = set()
