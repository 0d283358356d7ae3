"""The carrier adapter's decisions, without Kafka: route, park, expire, refuse."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from oms_events import deadletter
from oms_events.carriers import generic
from oms_events.engine import commands
from oms_events.engine.carrier_adapter import CarrierAdapter
from oms_events.engine.commands import RecordCarrierUpdate, RecordReturnParcelUpdate
from oms_events.engine.handling import Outcome
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.waybill_index import Owner, ParkedScan, WaybillIndex
from tests.unit.engine.flow import CODEC, SETTINGS

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "carriers"
SHIPMENT, RETURN = UUID(int=11), UUID(int=22)


def adapter(wait_s: float = 900) -> tuple[CarrierAdapter, WaybillIndex]:
    index = WaybillIndex()
    settings = SETTINGS.replace(engine={"waybill_wait_s": wait_s})
    return CarrierAdapter(index, settings, CODEC), index


def push(body: bytes, headers: list[tuple[str, bytes]] | None = None, offset: int = 7) -> Any:
    return SimpleNamespace(
        topic="oms.carrier.updates",
        partition=2,
        offset=offset,
        key=b"k",
        value=body,
        headers=headers or [],
    )


def commands_in(out: Outbox) -> list[commands.Command]:
    found = []
    for r in out.records:
        if r.topic.endswith(".commands") and r.value is not None:
            found.append(commands.decode(CODEC, r.value))
    return found


def test_scans_of_a_shipped_parcel_go_to_its_shipment() -> None:
    service, index = adapter()
    index.learn("顺丰", "SF1400012345678", Owner("shipment", SHIPMENT))
    out = Outbox(SETTINGS, CODEC)
    outcome = service.step(push((FIXTURES / "sf_route_push.json").read_bytes()), Partition(2), out)
    assert outcome is Outcome.APPLIED
    sent = commands_in(out)
    assert [type(c) for c in sent] == [RecordCarrierUpdate] * 5
    delivered = sent[-1]
    assert isinstance(delivered, RecordCarrierUpdate)
    assert (delivered.shipment_id, delivered.status, delivered.signer) == (
        SHIPMENT,
        "delivered",
        "李雷",
    )
    assert len({c.command_id for c in sent}) == 5  # one id per scan


def test_scans_of_a_return_parcel_go_to_the_return() -> None:
    service, index = adapter()
    index.learn("ZTO", "73100087654321", Owner("return", RETURN))
    out = Outbox(SETTINGS, CODEC)
    service.step(push((FIXTURES / "zto_problem.json").read_bytes()), Partition(2), out)
    (sent,) = commands_in(out)
    assert isinstance(sent, RecordReturnParcelUpdate)
    assert (sent.return_id, sent.status) == (RETURN, "delivery_failed")


def test_an_unknown_waybill_is_parked_then_forwarded_once_known() -> None:
    service, index = adapter()
    out = Outbox(SETTINGS, CODEC)
    service.step(push((FIXTURES / "zto_problem.json").read_bytes()), Partition(2), out)
    (parked,) = out.records
    assert parked.topic == "oms.carrier.parked" and parked.partition == 2
    assert commands_in(out) == []
    # What the watcher reads back from oms.carrier.parked:
    (scan,) = generic.parse(parked.value or b"")
    index.park(
        2,
        parked.key or b"",
        ParkedScan(scan, int(time.time() * 1000), deadletter.Source("t", 2, 7)),
    )
    partitions = {2: Partition(2)}
    assert not service.due(time.time(), partitions)  # still waiting, owner unknown
    index.learn("ZTO", "73100087654321", Owner("shipment", SHIPMENT))
    assert service.due(time.time(), partitions)
    tick = Outbox(SETTINGS, CODEC)
    service.tick(time.time(), partitions, tick)
    service.committed()
    (sent,) = commands_in(tick)
    assert isinstance(sent, RecordCarrierUpdate) and sent.shipment_id == SHIPMENT
    assert [(r.topic, r.value) for r in tick.records if "parked" in r.topic] == [
        ("oms.carrier.parked", None)  # the tombstone that settles it
    ]
    assert not service.due(time.time(), partitions)  # settled, though not read back yet


def test_a_scan_waiting_too_long_is_dead_lettered_as_an_unknown_waybill() -> None:
    service, index = adapter(wait_s=60)
    (scan,) = generic.parse((FIXTURES / "generic_delivered_cod.json").read_bytes())
    long_ago = int((time.time() - 61) * 1000)
    index.park(
        2, b"key", ParkedScan(scan, long_ago, deadletter.Source("oms.carrier.updates", 2, 9))
    )
    out = Outbox(SETTINGS, CODEC)
    service.tick(time.time(), {2: Partition(2)}, out)
    dead = [r for r in out.records if r.topic == "oms.deadletter"]
    (letter,) = dead
    read = deadletter.read(letter.headers)
    assert (read.reason.code, read.reason.field) == ("waybill.unknown", "tracking_no")
    assert (read.source.partition, read.source.offset) == (2, 9)
    assert json.loads(letter.value or b"")["tracking_no"] == "SF1234567890123"  # replayable


def test_a_malformed_push_is_dead_lettered_with_the_parser_reason() -> None:
    service, _ = adapter()
    out = Outbox(SETTINGS, CODEC)
    body = (FIXTURES / "bad_sf_time.json").read_bytes()
    assert service.step(push(body), Partition(2), out) is Outcome.DEAD
    (letter,) = out.records
    read = deadletter.read(letter.headers)
    assert (read.reason.code, read.reason.field) == (
        "carrier.bad_time",
        "WaybillRoute[0].acceptTime",
    )
    assert letter.value == body  # byte for byte, for a replay once fixed
