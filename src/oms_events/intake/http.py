"""HTTP intake for channels that push: ``POST /channels/{channel}/orders``.

The body is the channel's own format (JSON, XML or CSV), read by the same parser the
Kafka adapter uses. Design choice: the HTTP path does **not** write commands. It
validates the delivery, then publishes the raw bytes to ``oms.intake.<channel>``
(idempotent producer, acks=all) and answers with the deterministic order number. The
Kafka adapter stays the single writer of order commands and of the dedup changelog,
so exactly-once rests on one mechanism, whichever way an order arrives.

* 202: published; the body names our order number(s).
* 409: this exact version was already accepted; the body names the existing number.
  Best effort (an answer from the changelog plus what this process published): a
  racing duplicate may get 202, and the adapter still makes one order of it.
* 400: the delivery is refused; the body names the code, the field and why (en, zh),
  the same reason a dead letter of the Kafka path carries (:mod:`oms_events.deadletter`).
  Nothing is published or dead-lettered: the sender keeps it and can fix it.

The same server receives the payment providers' notifications
(``POST /payments/{alipay,wechatpay}/notify``): verified, recorded and answered by
:mod:`oms_events.payments.notify`, each provider in its own words.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Protocol

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from oms_events import topics
from oms_events.deadletter import DeadLetter, Source
from oms_events.engine.commands import PaymentCommand
from oms_events.intake.dedup import DedupIndex
from oms_events.intake.errors import Rejection
from oms_events.intake.model import IntakeCancel, IntakeOrder
from oms_events.intake.processor import IntakeProcessor, dead_letter
from oms_events.intake.returns import IntakeReturn
from oms_events.intake.state import load_index
from oms_events.kafka.connection import producer
from oms_events.payments.notify import KafkaNotificationSink, Notifications
from oms_events.settings import Settings


class ChannelName(StrEnum):
    """Channels that may push (``topics.CHANNELS``; a unit test keeps them equal)."""

    web = "web"
    tmall = "tmall"
    jd = "jd"
    pos = "pos"


class ProviderName(StrEnum):
    """Payment providers that notify us (``payments.gateway.Provider``)."""

    alipay = "alipay"
    wechatpay = "wechatpay"


class Publisher(Protocol):
    """Where accepted deliveries go: ``oms.intake.<channel>`` in production."""

    def publish(self, channel: str, key: str | None, raw: bytes) -> None: ...


class OrderRef(BaseModel):
    """One order of the delivery, in our numbering."""

    external_id: str = Field(description="The channel's order id")
    order_no: str = Field(description="Our order number, OMS-<channel>-<external id>")
    order_id: str = Field(description="The Order aggregate id (UUIDv5)")


class Accepted(BaseModel):
    """202: published to the intake topic; the order(s) will be placed once."""

    order_no: str = Field(description="Our number of the (first) order")
    orders: list[OrderRef]


class AlreadyAccepted(BaseModel):
    """409: this exact version was accepted before."""

    order_no: str = Field(description="The existing order number")
    orders: list[OrderRef]


class Problem(BaseModel):
    """400: why the delivery was refused."""

    code: str = Field(description="e.g. intake.unknown_sku, intake.bad_phone")
    field: str = Field(description="Path of the field at fault in the channel's document")
    message_en: str
    message_zh: str
    external_id: str | None = None
    problems: int = Field(1, description="How many orders of the delivery were refused")


def _ref(order: IntakeOrder | IntakeCancel | IntakeReturn) -> OrderRef:
    # A channel's return names the order it is for.
    external_id = order.dedup_id if isinstance(order, IntakeReturn) else order.external_id
    return OrderRef(external_id=external_id, order_no=order.order_no, order_id=str(order.order_id))


def _dedup_key(item: IntakeOrder | IntakeCancel | IntakeReturn) -> str:
    return item.dedup_id if isinstance(item, IntakeReturn) else item.external_id


_BODY = {
    "requestBody": {
        "required": True,
        "description": "The delivery in the channel's own format: web and tmall JSON, "
        "jd XML, pos a CSV batch.",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/xml": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


async def _raw_body(request: Request) -> bytes:
    return await request.body()


_NOTIFICATION = {
    "requestBody": {
        "required": True,
        "description": "The provider's notification as it posts it: Alipay a form "
        "signed RSA2 (sign, sign_type); WeChat Pay v3 JSON whose resource is "
        "AEAD_AES_256_GCM-encrypted, signed in the Wechatpay-Signature header.",
        "content": {
            "application/x-www-form-urlencoded": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}
_NOTIFICATION_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Alipay: recorded; the body is exactly success",
        "content": {"text/plain": {"schema": {"type": "string", "example": "success"}}},
    },
    204: {"description": "WeChat Pay: recorded"},
    400: {
        "description": "Refused (bad signature, undecryptable, stale, another merchant's) "
        "and dead-lettered: Alipay's body is fail, WeChat Pay's "
        '{"code": "FAIL", "message": …}; the provider resends',
    },
}


async def _headers(request: Request) -> dict[str, str]:
    return dict(request.headers)


# The body is read raw: its format is the channel's, not a pydantic model.
_RAW = Depends(_raw_body)
_HEADERS = Depends(_headers)


def create_app(
    processor: IntakeProcessor,
    publisher: Publisher,
    seen: DedupIndex,
    notifications: Notifications,
) -> FastAPI:
    """The intake API over a parser/processor, a publisher, a view of accepted orders,
    and the receiver of the payment providers' notifications."""
    app = FastAPI(
        title="oms-events intake",
        version="1",
        description="Channels that push send their orders here, in their own format; "
        "payment providers notify the payments they collected for us.",
    )

    @app.post(
        "/payments/{provider}/notify",
        response_class=Response,
        responses=_NOTIFICATION_ANSWERS,
        openapi_extra=_NOTIFICATION,
        summary="A payment provider's notification (paid, refunded, closed)",
    )
    def post_notification(
        provider: ProviderName, body: bytes = _RAW, headers: dict[str, str] = _HEADERS
    ) -> Response:
        status, media_type, answer = notifications.receive(provider.value, headers, body)
        return Response(content=answer, status_code=status, media_type=media_type)

    @app.post(
        "/channels/{channel}/orders",
        status_code=202,
        response_model=Accepted,
        responses={409: {"model": AlreadyAccepted}, 400: {"model": Problem}},
        openapi_extra=_BODY,
        summary="Deliver an order (or a POS batch) in the channel's format",
    )
    def post_orders(channel: ChannelName, body: bytes = _RAW) -> Any:
        try:
            delivery = processor.parse(channel.value, body)
        except Rejection as rejection:
            return _problem(channel.value, rejection, 1)
        refused = [i for i in delivery.items if isinstance(i, Rejection)]
        if refused:
            processor.counts.update(r.code.value for r in refused)
            return _problem(channel.value, refused[0], len(refused))
        # Orders, cancellations (a closed trade) and returns (a refund): published
        # alike, acknowledged alike.
        orders = [i for i in delivery.items if not isinstance(i, Rejection)]
        refs = [_ref(o) for o in orders]
        keys = [(o.channel, _dedup_key(o), o.content_hash()) for o in orders]
        if all(seen.known(*key) for key in keys):
            processor.counts["duplicate"] += len(orders)
            return JSONResponse(
                AlreadyAccepted(order_no=refs[0].order_no, orders=refs).model_dump(),
                status_code=409,
            )
        publisher.publish(channel.value, delivery.key, body)
        for key in keys:
            seen.stage(*key)
        seen.commit()
        return Accepted(order_no=refs[0].order_no, orders=refs)

    return app


def _problem(channel: str, rejection: Rejection, count: int) -> JSONResponse:
    # The words of the dead letter the Kafka path would write for this delivery.
    letter = dead_letter(channel, rejection, Source(topics.intake(channel)))
    problem = Problem(
        code=letter.reason.code,
        field=letter.reason.field,
        message_en=letter.reason.en,
        message_zh=letter.reason.zh,
        external_id=letter.context.get("external_id") or None,
        problems=count,
    )
    return JSONResponse(problem.model_dump(), status_code=400)


class KafkaPublisher:
    """Publishes raw deliveries on ``oms.intake.<channel>``, waiting for acks=all."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer = producer(settings)

    def publish(self, channel: str, key: str | None, raw: bytes) -> None:
        """Send and wait: a 202 is only given once the broker has the record."""
        topic = topics.name(self.settings, topics.intake(channel))
        self.producer.send(topic, key=key.encode() if key else None, value=raw).get(30)


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8081) -> None:
    """Run the intake API with uvicorn against Kafka (index loaded from the changelogs),
    with the configured payment gateways verifying notifications."""
    import uvicorn

    from oms_events.avro.registry import codec_from_settings
    from oms_events.payments import providers

    seen = DedupIndex()
    load_index(settings, topics.CHANNELS, seen)
    sink = KafkaNotificationSink(settings, codec_from_settings(settings.registry))
    gateways = {str(n): g for n, g in providers.gateways(settings).items()}
    notifications = Notifications(gateways, sink)
    app = create_app(IntakeProcessor(), KafkaPublisher(settings), seen, notifications)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        sink.close()


class _NoPublisher:
    def publish(self, channel: str, key: str | None, raw: bytes) -> None:
        raise RuntimeError("no publisher configured")


class _NoSink:
    def record(self, command: PaymentCommand) -> None:
        raise RuntimeError("no notification sink configured")

    def dead_letter(self, letter: DeadLetter, body: bytes, headers: Mapping[str, str]) -> None:
        raise RuntimeError("no notification sink configured")


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document the app serves (``docs/openapi.json`` keeps a copy)."""
    notifications = Notifications({}, _NoSink())
    return create_app(IntakeProcessor(), _NoPublisher(), DedupIndex(), notifications).openapi()


if __name__ == "__main__":  # python -m oms_events.intake.http > docs/openapi.json
    json.dump(openapi_document(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
