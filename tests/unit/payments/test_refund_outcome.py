"""The payment desk's refund questions to the providers, against the Alipay sandbox on loopback:
each tender's share asked under its own key, a refusal before any money moved fails
the refund, one after a share was paid leaves it pending, and a tender with no gateway
is refunded by hand."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest

from oms_events.domain import Money, Payment, PaymentMethod
from oms_events.engine.payment_desk import PartlyRefunded, outcome, refund_keys
from oms_events.payments.gateway import GatewayError, PaymentGateway
from oms_events.payments.keys import KeyRing
from oms_events.payments.sandbox import AlipaySandbox, Sandbox, WechatPaySandbox

from .conftest import APP_ID, MCHID, NotifyReceiver, alipay_gateway, wechatpay_gateway
from .test_sandboxes import RETRIES

ORDER = UUID(int=7)


@pytest.fixture
def alipay(
    keyring: KeyRing, receiver: NotifyReceiver
) -> Iterator[tuple[AlipaySandbox, PaymentGateway]]:
    sandbox = AlipaySandbox(keyring, APP_ID, retry_delays=RETRIES).start()
    yield sandbox, alipay_gateway(keyring, sandbox.url, receiver.url("alipay"))
    sandbox.stop()


def cny(amount: int) -> Money:
    return Money(amount, "CNY")


def paid(sandbox: Sandbox, gateway: PaymentGateway, reference: str, amount: int) -> None:
    gateway.request_payment(reference, amount, "CNY", "order")
    sandbox.pay(reference)


def test_each_share_goes_to_its_trade_under_its_own_key(
    alipay: tuple[AlipaySandbox, PaymentGateway],
) -> None:
    sandbox, gateway = alipay
    paid(sandbox, gateway, "O-7-1", 6000)
    paid(sandbox, gateway, "O-7-2", 4000)
    p = Payment.request(ORDER, PaymentMethod.ALIPAY, cny(6000), "O-7-1", "O-7", "web")
    p.capture("O-7-1", "alipay", cny(6000))
    p.capture("O-7-2", "alipay", cny(4000))
    p.request_refund("RF-7", cny(1000), "return")
    refund = p.refunds["RF-7"]
    assert refund_keys(refund) == {"O-7-1": "RF-7-1", "O-7-2": "RF-7-2"}
    answer = outcome(p, refund, {"alipay": gateway})
    assert answer.succeeded and answer.command_id == "refund-outcome/RF-7"
    assert (sandbox.refunded("O-7-1"), sandbox.refunded("O-7-2")) == (600, 400)
    # Asked again (a desk that crashed before recording): the same answer, no money.
    again = outcome(p, refund, {"alipay": gateway})
    assert again.tenders == answer.tenders
    assert (sandbox.refunded("O-7-1"), sandbox.refunded("O-7-2")) == (600, 400)


def test_a_refusal_before_any_money_moved_fails_the_refund(
    alipay: tuple[AlipaySandbox, PaymentGateway],
) -> None:
    _, gateway = alipay
    p = Payment.request(ORDER, PaymentMethod.ALIPAY, cny(1000), "NO-SUCH-TRADE")
    p.capture("NO-SUCH-TRADE", "alipay", cny(1000))
    p.request_refund("RF-8", cny(1000), "return")
    answer = outcome(p, p.refunds["RF-8"], {"alipay": gateway})
    assert not answer.succeeded and "TRADE_NOT_EXIST" in answer.failure


def test_a_refusal_after_a_share_was_paid_leaves_the_refund_pending(
    alipay: tuple[AlipaySandbox, PaymentGateway],
) -> None:
    sandbox, gateway = alipay
    paid(sandbox, gateway, "A-1", 1000)
    p = Payment.request(ORDER, PaymentMethod.ALIPAY, cny(1000), "A-1")
    p.capture("A-1", "alipay", cny(1000))
    p.capture("B-2", "alipay", cny(1000))  # no such trade at the provider
    p.request_refund("RF-9", cny(2000), "cancelled")
    with pytest.raises(PartlyRefunded):
        outcome(p, p.refunds["RF-9"], {"alipay": gateway})
    assert sandbox.refunded("A-1") == 1000


def test_cash_is_refunded_by_hand(alipay: tuple[AlipaySandbox, PaymentGateway]) -> None:
    _, gateway = alipay
    p = Payment.request(ORDER, PaymentMethod.CARD, cny(500), "POS-1")
    p.capture("POS-1", "cash", cny(500))
    p.request_refund("RF-10", cny(500), "return at the till")
    answer = outcome(p, p.refunds["RF-10"], {"alipay": gateway})
    assert answer.succeeded and [t.provider_refund_id for t in answer.tenders] == ["manual"]


def test_a_wechat_pay_share_processing_leaves_the_refund_to_its_notification(
    keyring: KeyRing, receiver: NotifyReceiver
) -> None:
    sandbox = WechatPaySandbox(keyring, MCHID, retry_delays=RETRIES).start()
    try:
        gateway = wechatpay_gateway(keyring, sandbox.url, receiver.url("wechatpay"))
        paid(sandbox, gateway, "W-1", 3000)
        p = Payment.request(ORDER, PaymentMethod.WECHAT_PAY, cny(3000), "W-1")
        p.capture("W-1", "wechat_pay", cny(3000), "4200000001")
        p.request_refund("RF-11", cny(1200), "return")
        # Asked with the trade's amount; WeChat Pay answers PROCESSING: not recorded as
        # succeeded, its REFUND.SUCCESS notification will settle it.
        assert outcome(p, p.refunds["RF-11"], {"wechatpay": gateway}) is None
        assert sandbox.refunded("W-1") == 1200
    finally:
        sandbox.stop()


@pytest.mark.parametrize("provider", ["alipay", "wechatpay"])
def test_an_unpaid_trade_is_closed_and_can_no_longer_be_paid(
    keyring: KeyRing, receiver: NotifyReceiver, provider: str
) -> None:
    sandbox: Sandbox
    if provider == "alipay":
        sandbox = AlipaySandbox(keyring, APP_ID, retry_delays=RETRIES).start()
        gateway = alipay_gateway(keyring, sandbox.url, receiver.url(provider))
    else:
        sandbox = WechatPaySandbox(keyring, MCHID, retry_delays=RETRIES).start()
        gateway = wechatpay_gateway(keyring, sandbox.url, receiver.url(provider))
    try:
        gateway.close_trade("NEVER-OPENED")  # nothing to close: as good as closed
        gateway.request_payment("C-1", 1000, "CNY", "order")
        gateway.close_trade("C-1")
        gateway.close_trade("C-1")  # again: still closed, no error
        assert sandbox.trades["C-1"].closed
        with pytest.raises(ValueError, match="closed"):
            sandbox.pay("C-1")
        paid(sandbox, gateway, "C-2", 500)
        with pytest.raises(GatewayError):
            gateway.close_trade("C-2")  # paid: its money is refunded, not closed away
    finally:
        sandbox.stop()
