"""The decrypt port: the real receiver of an order the platform sent masked.

Taobao, JD, Pinduoduo and Douyin send the receiver's name, phone and address
encrypted (``~…~``, ``#…#``, ``$…$``) or masked unless the seller decrypts them through
the platform. Such an order is placed with ``receiver_masked`` and waits before
allocation (``Workflow.decide``: ``WAIT_FOR_RECEIVER``). This desk follows
``oms.order.events``; for each ``OrderPlaced`` with a masked receiver it asks the
platform's decrypt API (``pdd.open.decrypt.batch``, Douyin ``order.batchDecrypt``) and
sends ``RevealReceiver`` (the order allocates) or, when the platform refuses or has no
ciphertext to decrypt, ``HoldOrder`` with reason ``receiver.decrypt_failed: …`` (the
order's row in the exception queue; it still waits for a real receiver).

It runs as a service of the engine's exactly-once loop: the command and the consumed
offset commit together; its command ids are derived from the order, so a redo after a
crash is a duplicate the order service ignores.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import structlog

from oms_events import eventlog, topics
from oms_events.avro.registry import codec_from_settings
from oms_events.engine.commands import (
    AddressDetails,
    Command,
    CustomerDetails,
    HoldOrder,
    RevealReceiver,
)
from oms_events.engine.handling import Outcome
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.processor import Processor
from oms_events.engine.records import CommandWriter
from oms_events.engine.service import Service
from oms_events.intake.pull.platforms import PLATFORMS, ApiError, Credentials, Platform
from oms_events.kafka.port import Record
from oms_events.recovery import Backoff
from oms_events.settings import Settings

log = structlog.get_logger("oms.intake.decrypt")

ACTOR = "decrypt-desk"
FAILED = "receiver.decrypt_failed"
_WRAPS = ("~", "#", "$")  # Pinduoduo / JD ``~…~``, Douyin ``#…#`` and ``$…$``


def encrypted(value: str | None) -> bool:
    """A platform ciphertext (wrapped in its markers), not a masked or clear value."""
    return (
        bool(value)
        and len(value or "") > 2
        and any(value.startswith(w) and value.endswith(w) for w in _WRAPS if value)
    )


def ciphers(payload: Mapping[str, Any]) -> list[str]:
    """The ciphertexts of an ``OrderPlaced``: receiver name, phone, street."""
    customer, address = payload["customer"], payload["address"]
    found = [customer.get("name"), customer.get("phone"), address.get("line1")]
    return [c for c in found if encrypted(c)]


def revealed(
    order_id: UUID, payload: Mapping[str, Any], plain: Mapping[str, str | None]
) -> Command:
    """``RevealReceiver`` when every ciphertext came back, else ``HoldOrder`` naming why."""
    customer, address = payload["customer"], payload["address"]
    wanted = ciphers(payload)
    refused = [c for c in wanted if not plain.get(c)]
    if not wanted or refused:
        why = "masked, no ciphertext to decrypt" if not wanted else "the platform refused"
        return hold(order_id, f"{why} ({len(refused)} of {len(wanted)} fields)")

    def clear(value: str | None) -> str | None:
        return plain.get(value) or value if value else value

    return RevealReceiver(
        command_id=f"decrypt:{order_id}",
        order_id=order_id,
        customer=CustomerDetails(
            name=clear(customer["name"]) or "",
            phone=clear(customer.get("phone")),
            account=customer.get("account"),
        ),
        address=AddressDetails(
            country=address["country"],
            line1=clear(address["line1"]) or "",
            province=address.get("province"),
            city=address.get("city"),
            district=address.get("district"),
            postcode=address.get("postcode"),
        ),
    )


def hold(order_id: UUID, why: str) -> HoldOrder:
    """The exception row of an order whose receiver could not be decrypted."""
    return HoldOrder(
        command_id=f"decrypt:{order_id}",
        order_id=order_id,
        reason=f"{FAILED}: {why}"[:200],
        actor=ACTOR,
    )


class DecryptService(Service):
    """Follows the order events; asks the platform for each masked receiver."""

    name = "decrypt"

    def __init__(
        self,
        settings: Settings,
        creds: Credentials | None = None,
        client: httpx.Client | None = None,
        platforms: Mapping[str, Platform] = PLATFORMS,
        stop: threading.Event | None = None,
    ) -> None:
        intake = settings.intake
        self.settings = settings
        self.codec = codec_from_settings(settings)
        self.events = eventlog.EventLog(self.codec, settings=settings)
        self.writer = CommandWriter(settings, self.codec)
        self.creds = creds or Credentials(
            intake.pull_app_key, intake.pull_app_secret, intake.pull_session
        )
        self.client = client or httpx.Client(base_url=intake.pull_url, timeout=30.0)
        self.platforms = platforms
        self.stop = stop or threading.Event()
        self.counts = {"revealed": 0, "held": 0}

    def input_topic(self) -> str:
        """``oms.order.events``."""
        return topics.events("order")

    def counters(self) -> dict[str, int]:
        """Receivers revealed, orders held."""
        return dict(self.counts)

    def step(self, record: Record, partition: Partition, out: Outbox) -> Outcome:
        """One order event: an ``OrderPlaced`` with a masked receiver gets its command."""
        if eventlog.header(record.headers, "event") != "OrderPlaced":
            return Outcome.APPLIED  # not ours to act on: nothing written, the offset moves on
        event = self.events.record(record)
        payload = event.payload
        if not payload.get("receiver_masked"):
            return Outcome.APPLIED
        command = self._decide(event.originator_id, payload)
        self.counts["revealed" if isinstance(command, RevealReceiver) else "held"] += 1
        log.info(
            "decrypt.answered",
            order_id=str(event.originator_id),
            channel=payload["channel"],
            command=command.name,
        )
        out.add(self.writer.record(command))
        return Outcome.APPLIED

    def _decide(self, order_id: UUID, payload: Mapping[str, Any]) -> Command:
        platform = self.platforms.get(payload["channel"])
        wanted = ciphers(payload)
        if not wanted:
            return revealed(order_id, payload, {})
        now = datetime.now(UTC)
        request = (
            platform.decrypt_request(self.creds, payload["external_id"], wanted, now)
            if platform is not None
            else None
        )
        if platform is None or request is None:
            return hold(order_id, f"no decrypt API for {payload['channel']} yet")
        backoff = Backoff(self.settings.recovery, stop=self.stop.is_set)
        for _ in range(5):  # then an exception row: the batch must not wait for ever
            try:
                answer = self.client.post(
                    request.url_tail(),
                    data=request.form or None,
                    content=request.body,
                    headers={"Content-Type": "application/json"} if request.body else None,
                )
                return revealed(order_id, payload, platform.read_decrypt(answer.content))
            except ApiError as error:
                if not error.throttled:
                    return hold(order_id, str(error))
                backoff.wait(f"{platform.channel} decrypt API (throttled)", error)
            except httpx.HTTPError as error:
                backoff.wait(f"{platform.channel} decrypt API", error)
        return hold(order_id, f"{platform.channel} decrypt API unavailable")


def run_decrypt_desk(settings: Settings, stop: threading.Event) -> DecryptService:
    """Run the desk in this thread until ``stop``; raises what stopped its loop."""
    service = DecryptService(settings, stop=stop)
    loop = Processor(service, settings, service.codec, stop, step=service.step)
    loop.run()
    if loop.error is not None:
        raise loop.error
    return service
