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
  Nothing is published or dead-lettered: the sender keeps it and can fix it. Text that
  is not UTF-8, or JSON escaping half a UTF-16 pair, is refused here as unreadable.
  Orders the order aggregate would refuse (address, quantity or amount limits) are
  refused here too (``intake.order_invalid``): a 202 always becomes an order.
* 413: the body is larger than ``http.max_body_bytes``; nothing was read past the limit.
* 503 (with ``Retry-After``): Kafka did not take the delivery. Send the same delivery
  again: the answer names the same order number (the adapter makes one order of
  however many copies reached the topic).

API documentation (``/docs``, ``/redoc``) is served from assets packaged with
``fastapi-offline`` (Swagger UI 5 and ReDoc), never from a CDN: operators' consoles
often have no internet, and a page loading third-party scripts next to the payment
endpoints is a supply-chain risk. (``swagger-ui-bundle`` was the other candidate; its
Swagger UI 4 cannot render the OpenAPI 3.1 documents FastAPI writes.)

The same server receives the payment providers' notifications
(``POST /payments/{alipay,wechatpay}/notify``): verified, recorded and answered by
:mod:`oms_events.payments.notify`, each provider in its own words.

It serves the operator API too (``/api/v1``, :mod:`oms_events.api`): one server, one
port. With ``api.channel_keys`` (the default) a channel's delivery must be signed with
its channel key (:mod:`oms_events.api.channel_keys`): 401 unsigned, stale or replayed,
403 another channel's key, 429 with ``Retry-After`` over the key's rate.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Protocol

import psycopg
from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, Field

from oms_events import console, topics, waits
from oms_events.api.channel_keys import KeyRefused
from oms_events.api.routes import operator_api
from oms_events.api.services import Services
from oms_events.avro.codec import SingleObjectCodec
from oms_events.deadletter import DeadLetter, Source
from oms_events.engine.commands import PaymentCommand
from oms_events.intake.dedup import DedupIndex
from oms_events.intake.errors import Rejection
from oms_events.intake.model import IntakeCancel, IntakeOrder
from oms_events.intake.processor import IntakeProcessor, dead_letter
from oms_events.intake.returns import IntakeReturn
from oms_events.intake.state import load_index
from oms_events.kafka.connection import producer
from oms_events.kafka.errors import KafkaError, KafkaUnavailable
from oms_events.payments.notify import KafkaNotificationSink, Notifications
from oms_events.recovery import Backoff
from oms_events.settings import Settings


class ChannelName(StrEnum):
    """Channels that may push (``topics.CHANNELS``; a unit test keeps them equal)."""

    web = "web"
    tmall = "tmall"
    jd = "jd"
    pos = "pos"
    pdd = "pdd"
    douyin = "douyin"


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
        "description": "The delivery in the channel's own format: web, tmall, pdd and "
        "douyin JSON, jd JSON (the order API's answer) or XML, pos a CSV batch.",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/xml": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


class Refusal(Exception):
    """An answer other than 2xx decided before the route's work (413, 503)."""

    def __init__(self, status: int, problem: Problem, headers: dict[str, str] | None = None):
        super().__init__(problem.message_en)
        self.status = status
        self.problem = problem
        self.headers = headers or {}


def too_large(limit: int) -> Refusal:
    """413: the body exceeds ``http.max_body_bytes``."""
    return Refusal(
        413,
        Problem(
            code="http.too_large",
            field="$",
            message_en=f"the body is larger than {limit} bytes (http.max_body_bytes)",
            message_zh=f"请求体超过 {limit} 字节（http.max_body_bytes）",
        ),
    )


def kafka_unavailable(retry_after_s: int, error: Exception) -> Refusal:
    """503: Kafka did not take the delivery; the same delivery may be sent again."""
    return Refusal(
        503,
        Problem(
            code="http.kafka_unavailable",
            field="$",
            message_en=f"Kafka did not take the delivery ({type(error).__name__}); "
            f"send it again in {retry_after_s} s",
            message_zh=f"Kafka 暂不可用，请在 {retry_after_s} 秒后重发同一订单",
        ),
        {"Retry-After": str(retry_after_s)},
    )


async def _raw_body(request: Request) -> bytes:
    # Read at most the limit: a declared length over it is refused before any byte is
    # read, and a chunked body is counted as it arrives.
    limit: int = request.app.state.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


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
    max_body_bytes: int = 512 * 1024,
    retry_after_s: int = 5,
    api: Services | None = None,
    channel_keys: bool = False,
) -> FastAPI:
    """The intake API over a parser/processor, a publisher, a view of accepted orders,
    and the receiver of the payment providers' notifications; bodies over
    ``max_body_bytes`` get 413, a delivery Kafka does not take 503.

    ``api``: the operator API's services (its routes answer 503 without them);
    ``channel_keys``: deliveries must be signed with a channel key (needs ``api``)."""
    if channel_keys and api is None:
        raise ValueError("channel_keys needs the operator API's services (api=...)")
    app = FastAPIOffline(
        title="oms-events",
        version="1",
        description="Channels that push send their orders here, in their own format, "
        "signed with their channel key; payment providers notify the payments they "
        "collected for us; operators and the console use the operator API under "
        "/api/v1 with a bearer token (POST /api/v1/auth/token).",
    )
    app.state.max_body_bytes = max_body_bytes
    app.state.api = api
    app.include_router(operator_api())

    @app.exception_handler(Refusal)
    async def refused(request: Request, refusal: Refusal) -> JSONResponse:
        return JSONResponse(
            refusal.problem.model_dump(), status_code=refusal.status, headers=refusal.headers
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
        responses={
            409: {"model": AlreadyAccepted},
            400: {"model": Problem},
            401: {
                "model": Problem,
                "description": "Unsigned, unknown key, bad signature, "
                "stale timestamp or replayed request",
            },
            403: {"model": Problem, "description": "The key is another channel's"},
            413: {"model": Problem},
            429: {"model": Problem, "description": "Over the key's rate; see Retry-After"},
            503: {"model": Problem, "description": "Kafka unavailable; see Retry-After"},
        },
        openapi_extra=_BODY,
        summary="Deliver an order (or a POS batch) in the channel's format",
    )
    def post_orders(
        channel: ChannelName,
        body: bytes = _RAW,
        headers: dict[str, str] = _HEADERS,
        x_oms_key: Annotated[str | None, Header(description="The channel key's id")] = None,
        x_oms_timestamp: Annotated[
            str | None, Header(description="Unix seconds when the request was signed")
        ] = None,
        x_oms_signature: Annotated[
            str | None,
            Header(description="hex HMAC-SHA256 with the key's secret over '<timestamp>.<body>'"),
        ] = None,
    ) -> Any:
        if channel_keys:
            assert api is not None
            try:
                api.guard.check(channel.value, headers, body)
            except KeyRefused as key_refused:
                raise _key_refused(key_refused) from None
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
        try:
            publisher.publish(channel.value, delivery.key, body)
        except KafkaError as error:
            raise kafka_unavailable(retry_after_s, error) from error
        for key in keys:
            seen.stage(*key)
        seen.commit()
        return Accepted(order_no=refs[0].order_no, orders=refs)

    console.mount(app)  # the operator console's pages at /console/ (not in the OpenAPI)
    return app


def _key_refused(refused: KeyRefused) -> Refusal:
    headers = {"Retry-After": str(refused.retry_after_s)} if refused.retry_after_s else {}
    if refused.status == 401:
        headers["WWW-Authenticate"] = (
            'HMAC-SHA256 headers="X-OMS-Key X-OMS-Timestamp X-OMS-Signature"'
        )
    problem = Problem(
        code=refused.code, field="headers", message_en=refused.en, message_zh=refused.zh
    )
    return Refusal(refused.status, problem, headers)


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

    def __init__(self, settings: Settings, timeout_s: float = 10.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self.producer = producer(settings)

    def publish(self, channel: str, key: str | None, raw: bytes) -> None:
        """Send and wait: a 202 is only given once the broker has the record.

        Raises KafkaError (the app answers 503) when the broker does not acknowledge
        within ``timeout_s``; the record may still arrive later, which a resend makes
        harmless (the adapter deduplicates).
        """
        topic = topics.name(self.settings, topics.intake(channel))
        value = key.encode() if key else None
        self.producer.send(topic, key=value, value=raw).get(self.timeout_s)


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8081) -> None:
    """Run the intake API with uvicorn against Kafka (index loaded from the changelogs),
    with the configured payment gateways verifying notifications."""
    import uvicorn

    from oms_events.avro.registry import codec_from_settings
    from oms_events.payments import providers

    seen = DedupIndex()
    # Kafka down at start: wait for it (logged), as every other process does.
    backoff = Backoff(
        settings.recovery, board=waits.WaitBoard(waits.folder(settings), "intake.http")
    )
    while True:
        try:
            load_index(settings, topics.CHANNELS, seen)
            publisher = KafkaPublisher(settings)
            codec = codec_from_settings(settings)
            sink = KafkaNotificationSink(settings, codec)
            break
        except (KafkaError, KafkaUnavailable) as exc:
            seen = DedupIndex()
            backoff.wait("Kafka", exc)
    backoff.recovered()
    gateways = {str(n): g for n, g in providers.gateways(settings).items()}
    notifications = Notifications(gateways, sink)
    # Its size check encodes PlaceOrder as the adapter will, personal data sealed.
    processor = IntakeProcessor(codec, max_record_bytes=settings.kafka.max_record_bytes)
    # PostgreSQL down at start (the operator API's read models, the channels' keys):
    # wait for it too.
    while True:
        try:
            api = Services.start(settings)
            break
        except (psycopg.OperationalError, PoolTimeout) as exc:
            backoff.wait("PostgreSQL", exc)
    backoff.recovered()
    app = create_app(
        processor,
        publisher,
        seen,
        notifications,
        max_body_bytes=settings.http.max_body_bytes,
        retry_after_s=settings.http.retry_after_s,
        api=api,
        channel_keys=settings.api.channel_keys,
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        sink.close()
        api.close()


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
    # Only the routes are read: the processor never encodes here.
    processor = IntakeProcessor(SingleObjectCodec())
    return create_app(processor, _NoPublisher(), DedupIndex(), notifications).openapi()


if __name__ == "__main__":  # python -m oms_events.intake.http > docs/openapi.json
    json.dump(openapi_document(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
