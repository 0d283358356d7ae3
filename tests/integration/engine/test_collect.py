"""Money we collect ourselves, on the real broker and the providers' sandboxes: an
order the channel did not collect gets a trade opened at the provider by the payment
desk; the customer pays; the provider's notification reaches our HTTP endpoint and
becomes a capture, and the order is allocated. A resend of the notification has no
second effect; a tampered one is refused in the provider's words and dead-lettered."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from oms_events import deadletter, topics
from oms_events.avro.codec import SingleObjectCodec
from oms_events.domain.ids import order_of_trade
from oms_events.engine.commands import RefundOrder
from oms_events.engine.runner import Engine
from oms_events.intake.dedup import DedupIndex
from oms_events.intake.http import create_app
from oms_events.intake.processor import IntakeProcessor
from oms_events.payments.gateway import PaymentGateway
from oms_events.payments.keys import KeyRing
from oms_events.payments.notify import KafkaNotificationSink, Notifications
from oms_events.payments.sandbox import AlipaySandbox, Sandbox, WechatPaySandbox
from oms_events.settings import Settings
from tests.integration.engine.harness import (
    CODEC,
    engine_settings,
    light,
    place_order,
    read_events,
    read_topic,
    receive,
    send,
    wait_for,
)
from tests.ports import free_port
from tests.unit.payments.conftest import APP_ID, MCHID, alipay_gateway, wechatpay_gateway

# provider -> (the order's method, the sandbox, the merchant's gateway, a tamper, the
# provider's failure answer as (status, what the body holds))
Tamper = Callable[[bytes], bytes]
PROVIDERS: dict[str, tuple[str, Any, Any, Tamper, tuple[int, bytes]]] = {
    "alipay": (
        "alipay",
        lambda ring: AlipaySandbox(ring, APP_ID, retry_delays=(60.0,)),
        alipay_gateway,
        lambda body: body.replace(b"total_amount=10.00", b"total_amount=0.01"),
        (400, b"fail"),
    ),
    "wechatpay": (
        "wechat_pay",
        lambda ring: WechatPaySandbox(ring, MCHID, retry_delays=(60.0,)),
        wechatpay_gateway,
        # Any byte changed breaks the Wechatpay-Signature over the body.
        lambda body: body[:-1] + b" }",
        (400, b'"FAIL"'),
    ),
}


def notify_url(port: int, provider: str) -> str:
    return f"http://127.0.0.1:{port}/payments/{provider}/notify"


class Server:
    """The project's HTTP app under uvicorn on a loopback port, in a thread."""

    def __init__(self, port: int, notifications: Notifications) -> None:
        self.port = port
        app = create_app(
            IntakeProcessor(SingleObjectCodec()), _NoOrders(), DedupIndex(), notifications
        )
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        assert wait_for(lambda: self.server.started, 30, 0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


class _NoOrders:
    def publish(self, channel: str, key: str | None, raw: bytes) -> None:
        raise AssertionError("no order is delivered over HTTP here")


@pytest.fixture(params=sorted(PROVIDERS))
def provider(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    return KeyRing.load_or_create(tmp_path / "keys")


@pytest.fixture
def sandbox(provider: str, ring: KeyRing) -> Iterator[Sandbox]:
    box: Sandbox = PROVIDERS[provider][1](ring).start()
    yield box
    box.stop()


def names(events: list[Any]) -> list[str]:
    return [e.name for e in events]


def test_an_unpaid_order_is_paid_at_the_provider_notified_captured_once_and_allocated(
    isolated: Settings, provider: str, ring: KeyRing, sandbox: Sandbox
) -> None:
    method, _, make_gateway, tamper, (refused_status, refused_body) = PROVIDERS[provider]
    settings = light(isolated)
    receive(settings, {("TEA", "SH"): 5})
    sink = KafkaNotificationSink(settings, CODEC)
    port = free_port()
    gateway: PaymentGateway = make_gateway(ring, sandbox.url, notify_url(port, provider))
    with Server(port, Notifications({provider: gateway}, sink)):
        engine = Engine(engine_settings(settings), gateways={provider: gateway})
        engine.start()
        try:
            assert wait_for(lambda: engine.stock.available("TEA", "SH") == 5, 60, 0.2)
            placed = place_order(f"U-{uuid.uuid4().hex[:6]}", "TEA", paid=False, method=method)
            send(settings, [placed])

            # The payment desk opens the trade: our number, naming the order.
            assert wait_for(lambda: len(sandbox.trades) == 1, 60, 0.2)
            [trade] = sandbox.trades.values()
            order_id = next(e.originator_id for e in read_events(settings, "order"))
            assert order_of_trade(trade.out_trade_no) == order_id and trade.amount == 1000
            # Unpaid, the order waits: it is not allocated.
            assert "OrderAllocated" not in names(read_events(settings, "order"))

            # The customer pays; the provider notifies us and we acknowledge it.
            delivery = sandbox.pay(trade.out_trade_no)
            assert delivery.acknowledged, delivery.answered
            assert wait_for(
                lambda: "OrderAllocated" in names(read_events(settings, "order")), 60, 0.5
            )

            # The same notification again: acknowledged, nothing more.
            assert sandbox.resend(delivery.notify_id).acknowledged

            # A tampered one: refused in the provider's words and dead-lettered.
            forged = tamper(delivery.body)
            assert forged != delivery.body
            answer = httpx.post(
                notify_url(port, provider), content=forged, headers=delivery.headers
            )
            assert answer.status_code == refused_status and refused_body in answer.content

            # A refund of everything, through the same payment partition as the resent
            # capture: once it is recorded, the resend has been handled too.
            send(
                settings,
                [
                    RefundOrder(
                        command_id=str(uuid.uuid4()),
                        order_id=order_id,
                        refund_id=f"RF-{placed.external_id}",
                        reason="customer changed their mind",
                    )
                ],
            )
            assert wait_for(
                lambda: "RefundRecorded" in names(read_events(settings, "order")), 60, 0.5
            )
            assert wait_for(lambda: sandbox.refunded(trade.out_trade_no) == 1000, 30, 0.2)
            # The provider notifies the refund too: acknowledged; the payment desk's
            # answer recorded it already, so it is not counted again (see below).
            assert wait_for(
                lambda: (
                    len(sandbox.deliveries) == 2
                    and all(d.acknowledged for d in sandbox.deliveries.values())
                ),
                30,
                0.2,
            )
        finally:
            engine.stop()
            sink.close()
    assert not engine.failed()
    assert engine.desk is not None and engine.desk.error is None

    money = names(read_events(settings, "payment"))
    assert money == ["PaymentRequested", "PaymentCaptured", "RefundRequested", "PaymentRefunded"]
    order_money = [
        n for n in names(read_events(settings, "order")) if n.startswith(("Payment", "Refund"))
    ]
    assert order_money == ["PaymentRecorded", "RefundAgreed", "RefundRecorded"]
    assert len(sandbox.trades) == 1

    letters = [
        (deadletter.read(r.headers), r.value)
        for r in read_topic(settings, topics.name(settings, topics.DEADLETTER))
    ]
    refused = [
        (letter, value) for letter, value in letters if letter.processor == "payments.notify"
    ]
    assert len(refused) == 1
    [(letter, value)] = refused
    assert letter.reason.code == f"payment.{provider}.signature"
    assert letter.reason.field == deadletter.WHOLE
    assert letter.reason.en and letter.reason.zh
    assert value == forged
