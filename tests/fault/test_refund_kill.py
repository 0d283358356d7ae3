"""The payment processor SIGKILLed mid-refund: the provider had already paid the refund
out, the outcome was never recorded. The replacement asks again with the same key and
the money moves once."""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from oms_events.engine.commands import RefundOrder
from oms_events.payments.alipay import AlipayGateway
from oms_events.payments.keys import KeyRing
from oms_events.payments.sandbox import AlipaySandbox, Answer
from oms_events.settings import Settings
from tests.integration.engine.harness import (
    engine_process,
    light,
    place_order,
    read_events,
    receive,
    send,
    wait_for,
)

APP_ID = "2021000000000001"


class HeldAlipay(AlipaySandbox):
    """The Alipay sandbox, whose first refund answer is held back (the money already
    moved in its book) until the test lets it go: a processor killed meanwhile never
    hears that the refund was paid."""

    def __init__(self, keyring: KeyRing) -> None:
        super().__init__(keyring, APP_ID, retry_delays=(60.0,))
        self.refund_requests = 0
        self.arrived = threading.Event()
        self.release = threading.Event()

    def handle(self, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        answer = super().handle(path, headers, body)
        if b"alipay.trade.refund" in body:
            with self.lock:
                self.refund_requests += 1
                first = self.refund_requests == 1
            if first:
                self.arrived.set()
                self.release.wait(60)
        return answer


@pytest.fixture
def alipay(tmp_path: Path) -> Iterator[tuple[HeldAlipay, AlipayGateway, Path]]:
    keys = tmp_path / "keys"
    ring = KeyRing.load_or_create(keys)
    sandbox = HeldAlipay(ring).start()
    gateway = AlipayGateway(
        app_id=APP_ID,
        app_key=ring.alipay_app,
        alipay_public_key=ring.alipay_platform.public_key(),
        gateway_url=f"{sandbox.url}/gateway.do",
        notify_url="http://127.0.0.1:9/notify",
    )
    yield sandbox, gateway, keys
    sandbox.release.set()
    sandbox.stop()


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_refund_interrupted_by_sigkill_reaches_the_provider_once(
    isolated: Settings, alipay: tuple[HeldAlipay, AlipayGateway, Path]
) -> None:
    sandbox, gateway, keys = alipay
    settings = light(isolated)
    receive(settings, {("TEA", "SH"): 5})
    order = place_order("K1", "TEA", quantity=2)
    gateway.request_payment(order.order_no, 2000, "CNY", "order K1")
    sandbox.pay(order.order_no)
    env = {
        "OMS_PAYMENTS_KEYS_DIR": str(keys),
        "OMS_PAYMENTS_ALIPAY_URL": f"{sandbox.url}/gateway.do",
        "OMS_PAYMENTS_ALIPAY_NOTIFY_URL": "http://127.0.0.1:9/notify",
    }
    orders = engine_process(settings, "order", "inventory")
    money = engine_process(settings, "payment", extra_env=env)
    replacement: subprocess.Popen[bytes] | None = None
    try:
        send(settings, [order])
        assert wait_for(
            lambda: "PaymentCaptured" in [e.name for e in read_events(settings, "payment")], 90
        )
        order_id = next(e.originator_id for e in read_events(settings, "order"))
        send(
            settings,
            [
                RefundOrder(
                    command_id="refund-k1",
                    order_id=order_id,
                    refund_id="RF-K1",
                    reason="customer changed their mind",
                )
            ],
        )
        # The provider has paid the refund out; its answer is on the wire. Kill.
        assert sandbox.arrived.wait(90)
        assert sandbox.refunded(order.order_no) == 2000
        money.send_signal(signal.SIGKILL)
        money.wait(30)
        sandbox.release.set()

        replacement = engine_process(settings, "payment", extra_env=env)
        assert wait_for(
            lambda: "RefundRecorded" in [e.name for e in read_events(settings, "order")], 120
        )
    finally:
        for proc in (orders, money, replacement):
            if proc is not None:
                stop(proc)

    # Asked twice (the first answer was lost with the killed process), paid once.
    assert sandbox.refund_requests == 2
    assert sandbox.refunded(order.order_no) == 2000
    events = read_events(settings, "payment")
    assert [e.name for e in events].count("PaymentRefunded") == 1
    recorded = [e for e in read_events(settings, "order") if e.name == "RefundRecorded"]
    assert [e.payload["amount"]["amount"] for e in recorded] == [2000]
