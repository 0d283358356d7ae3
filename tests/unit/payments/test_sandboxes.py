"""Both gateways against their sandboxes on loopback: a payment is notified, a resend
has the same notify id, a refund repeated with its key moves money once, and requests
not signed by the merchant are refused."""

from __future__ import annotations

import os
import queue
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from oms_events.payments.gateway import GatewayError, PaymentGateway
from oms_events.payments.keys import KeyRing
from oms_events.payments.sandbox import AlipaySandbox, Sandbox, WechatPaySandbox

from .conftest import APP_ID, MCHID, NotifyReceiver, alipay_gateway, wechatpay_gateway

RETRIES = (0.05, 0.05)  # the providers' schedule, in milliseconds


@pytest.fixture(params=["alipay", "wechatpay"])
def provider(
    request: pytest.FixtureRequest, keyring: KeyRing, receiver: NotifyReceiver
) -> Iterator[tuple[Sandbox, PaymentGateway]]:
    """A sandbox on a free loopback port and the gateway that talks to it."""
    sandbox: Sandbox
    gateway: PaymentGateway
    if request.param == "alipay":
        sandbox = AlipaySandbox(keyring, APP_ID, retry_delays=RETRIES).start()
        gateway = alipay_gateway(keyring, sandbox.url, receiver.url("alipay"))
    else:
        sandbox = WechatPaySandbox(keyring, MCHID, retry_delays=RETRIES).start()
        gateway = wechatpay_gateway(keyring, sandbox.url, receiver.url("wechatpay"))
    yield sandbox, gateway
    sandbox.stop()


def test_a_paid_trade_is_notified_and_a_resend_has_the_same_notify_id(
    provider: tuple[Sandbox, PaymentGateway], receiver: NotifyReceiver
) -> None:
    sandbox, gateway = provider
    requested = gateway.request_payment("P-1", 8880, "CNY", "order 1")
    assert requested.pay_url
    delivery = sandbox.pay("P-1")
    assert delivery.answered == 200
    paid = gateway.parse_notification(*receiver.next())
    assert (paid.status, paid.out_trade_no, paid.amount, paid.currency) == (
        "paid",
        "P-1",
        8880,
        "CNY",
    )
    sandbox.resend(paid.notify_id)
    again = gateway.parse_notification(*receiver.next())
    assert again.notify_id == paid.notify_id


def test_a_notification_refused_by_the_merchant_is_resent_with_the_same_id(
    provider: tuple[Sandbox, PaymentGateway], receiver: NotifyReceiver
) -> None:
    sandbox, gateway = provider
    gateway.request_payment("P-8", 700, "CNY", "order 8")
    receiver.refuse = 1  # the merchant is down for the first attempt
    first = sandbox.pay("P-8")
    assert (first.answered, first.acknowledged) == (500, False)
    sent, resent = receiver.next(), receiver.next()
    assert gateway.parse_notification(*resent) == gateway.parse_notification(*sent)
    deadline = time.monotonic() + 10  # the receiver queues a post before it answers
    while not first.acknowledged and time.monotonic() < deadline:
        time.sleep(0.01)
    assert first.acknowledged and first.attempts == 2
    with pytest.raises(queue.Empty):  # acknowledged: no third attempt
        receiver.next(timeout=0.3)


def test_a_refund_repeated_with_its_key_moves_money_once(
    provider: tuple[Sandbox, PaymentGateway], receiver: NotifyReceiver
) -> None:
    sandbox, gateway = provider
    gateway.request_payment("P-2", 10000, "CNY", "order 2")
    sandbox.pay("P-2")
    receiver.next()  # the payment's notification

    first = gateway.request_refund("P-2", "R-2-1", 3000, 10000, "CNY", "line returned")
    # The processor crashed before recording the answer, and asks again with the same key.
    again = gateway.request_refund("P-2", "R-2-1", 3000, 10000, "CNY", "line returned")

    assert sandbox.refunded("P-2") == 3000
    assert (again.amount, again.provider_refund_id) == (first.amount, first.provider_refund_id)
    refunded = gateway.parse_notification(*receiver.next())
    assert (refunded.status, refunded.refund_no) == ("refunded", "R-2-1")
    with pytest.raises(queue.Empty):  # the repeated request notified nothing
        receiver.next(timeout=0.5)

    gateway.request_refund("P-2", "R-2-2", 7000, 10000, "CNY", "order cancelled")
    assert sandbox.refunded("P-2") == 10000


def test_a_refund_beyond_the_paid_amount_is_refused(
    provider: tuple[Sandbox, PaymentGateway], receiver: NotifyReceiver
) -> None:
    sandbox, gateway = provider
    gateway.request_payment("P-3", 5000, "CNY", "order 3")
    sandbox.pay("P-3")
    with pytest.raises(GatewayError):
        gateway.request_refund("P-3", "R-3-1", 5001, 5000, "CNY", "too much")
    assert sandbox.refunded("P-3") == 0


def test_a_refund_of_an_unpaid_trade_is_refused(
    provider: tuple[Sandbox, PaymentGateway],
) -> None:
    _, gateway = provider
    gateway.request_payment("P-4", 5000, "CNY", "order 4")
    with pytest.raises(GatewayError):
        gateway.request_refund("P-4", "R-4-1", 100, 5000, "CNY", "not paid yet")


def test_requests_signed_by_another_merchant_key_are_refused(
    keyring: KeyRing, stranger: KeyRing, receiver: NotifyReceiver
) -> None:
    forged = KeyRing(
        alipay_app=stranger.alipay_app,
        alipay_platform=keyring.alipay_platform,
        wechatpay_merchant=stranger.wechatpay_merchant,
        wechatpay_platform=keyring.wechatpay_platform,
        wechatpay_apiv3=keyring.wechatpay_apiv3,
    )
    with AlipaySandbox(keyring, APP_ID) as ali, WechatPaySandbox(keyring, MCHID) as wx:
        with pytest.raises(GatewayError, match="invalid-signature"):
            alipay_gateway(forged, ali.url, receiver.url("alipay")).request_payment(
                "P-5", 100, "CNY", "x"
            )
        with pytest.raises(GatewayError, match="SIGN_ERROR"):
            wechatpay_gateway(forged, wx.url, receiver.url("wechatpay")).request_payment(
                "P-5", 100, "CNY", "x"
            )
        assert not ali.trades and not wx.trades


def test_an_answer_not_signed_by_the_platform_is_not_trusted(
    keyring: KeyRing, stranger: KeyRing, receiver: NotifyReceiver
) -> None:
    # A sandbox with someone else's platform keys stands for a man in the middle.
    impostor = KeyRing(
        alipay_app=keyring.alipay_app,
        alipay_platform=stranger.alipay_platform,
        wechatpay_merchant=keyring.wechatpay_merchant,
        wechatpay_platform=stranger.wechatpay_platform,
        wechatpay_apiv3=keyring.wechatpay_apiv3,
    )
    with AlipaySandbox(impostor, APP_ID) as ali, WechatPaySandbox(impostor, MCHID) as wx:
        with pytest.raises(GatewayError, match="signature is not Alipay's"):
            alipay_gateway(keyring, ali.url, receiver.url("alipay")).request_payment(
                "P-6", 100, "CNY", "x"
            )
        with pytest.raises(GatewayError, match="not the platform's"):
            wechatpay_gateway(keyring, wx.url, receiver.url("wechatpay")).request_payment(
                "P-6", 100, "CNY", "x"
            )


def test_the_customer_pays_from_another_process_through_the_control_endpoint(
    keyring: KeyRing, receiver: NotifyReceiver
) -> None:
    with WechatPaySandbox(keyring, MCHID) as wx:
        gateway = wechatpay_gateway(keyring, wx.url, receiver.url("wechatpay"))
        gateway.request_payment("P-7", 2500, "CNY", "order 7")
        answer = httpx.post(f"{wx.url}/sandbox/pay", json={"out_trade_no": "P-7"})
        assert answer.status_code == 200 and answer.json()["answered"] == 200
        assert gateway.parse_notification(*receiver.next()).amount == 2500
        again = httpx.post(f"{wx.url}/sandbox/pay", json={"out_trade_no": "P-7"})
        assert again.status_code == 409  # paid once only


def test_keys_are_generated_once_readable_by_the_owner_only(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    first = KeyRing.load_or_create(folder)
    again = KeyRing.load_or_create(folder)
    assert again.wechatpay_platform_serial == first.wechatpay_platform_serial
    assert again.wechatpay_apiv3 == first.wechatpay_apiv3
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    files = sorted(folder.iterdir())
    assert len(files) == 5
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_a_malformed_request_is_answered_400_not_dropped(keyring: KeyRing) -> None:
    with AlipaySandbox(keyring, APP_ID) as ali:
        answer = httpx.post(f"{ali.url}/gateway.do", content=b"\xff\xfe")
        assert answer.status_code == 400 and answer.json()["code"] == "PARAM_ERROR"
