"""Notifications through the HTTP app: a paid trade of ours becomes a capture, a resend
is the same command, a forged one is refused in the provider's words and
dead-lettered, and every provider hears the acknowledgement it expects."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient

from oms_events.avro.codec import SingleObjectCodec
from oms_events.deadletter import WHOLE, DeadLetter
from oms_events.domain.ids import trade_no
from oms_events.domain.order import PaymentMethod
from oms_events.domain.payment import Payment
from oms_events.engine.commands import CapturePayment, PaymentCommand, SettleRefund
from oms_events.intake.dedup import DedupIndex
from oms_events.intake.http import create_app
from oms_events.intake.processor import IntakeProcessor
from oms_events.payments.keys import KeyRing
from oms_events.payments.notify import Notifications

from .conftest import (
    alipay_body,
    alipay_gateway,
    fixture,
    wechatpay_gateway,
    wechatpay_post,
)

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
ORDER = uuid.UUID("6f1c1d2e-0b9a-4c55-9d1e-7a3b2c1d0e9f")


@dataclass
class Letters:
    """A sink that keeps what it was given."""

    captures: list[CapturePayment] = field(default_factory=list)
    settled: list[SettleRefund] = field(default_factory=list)
    letters: list[tuple[DeadLetter, bytes, dict[str, str]]] = field(default_factory=list)

    def record(self, command: PaymentCommand) -> None:
        if isinstance(command, SettleRefund):
            self.settled.append(command)
        else:
            assert isinstance(command, CapturePayment)
            self.captures.append(command)

    def dead_letter(self, letter: DeadLetter, body: bytes, headers: Mapping[str, str]) -> None:
        self.letters.append((letter, body, dict(headers)))


class NoPublisher:
    def publish(self, channel: str, key: str | None, raw: bytes) -> None:
        raise AssertionError("no order is delivered here")


@pytest.fixture
def sink() -> Letters:
    return Letters()


@pytest.fixture
def client(keyring: KeyRing, sink: Letters) -> TestClient:
    gateways = {"alipay": alipay_gateway(keyring), "wechatpay": wechatpay_gateway(keyring)}
    notifications = Notifications(gateways, sink)
    return TestClient(
        create_app(IntakeProcessor(SingleObjectCodec()), NoPublisher(), DedupIndex(), notifications)
    )


def alipay_paid(keyring: KeyRing, out_trade_no: str, signer: object = None) -> bytes:
    params = {**fixture("alipay_notify_paid.json"), "out_trade_no": out_trade_no}
    return alipay_body(params, signer or keyring.alipay_platform)


def test_a_paid_alipay_trade_of_ours_is_captured_once_per_notification(
    client: TestClient, sink: Letters, keyring: KeyRing
) -> None:
    body = alipay_paid(keyring, trade_no(ORDER, 1))
    first = client.post("/payments/alipay/notify", content=body, headers=FORM)
    again = client.post("/payments/alipay/notify", content=body, headers=FORM)
    assert (first.status_code, first.text) == (200, "success")
    assert (again.status_code, again.text) == (200, "success")
    capture = sink.captures[0]
    assert (capture.order_id, capture.reference, capture.amount) == (
        ORDER,
        trade_no(ORDER, 1),
        8880,
    )
    assert (capture.method, capture.order_method) == ("alipay", PaymentMethod.ALIPAY)
    assert capture.key == str(Payment.create_id(ORDER))
    assert capture.provider_reference == "2013112011001004330000121536"
    # A resend is the same command (its id is the notify id): the Payment captures a
    # tender once, so it has no second effect.
    assert sink.captures == [capture, capture] and not sink.letters


def test_a_tampered_alipay_notification_is_refused_and_dead_lettered(
    client: TestClient, sink: Letters, keyring: KeyRing
) -> None:
    body = alipay_paid(keyring, trade_no(ORDER, 1)).replace(
        b"total_amount=88.80", b"total_amount=0.01"
    )
    answer = client.post("/payments/alipay/notify", content=body, headers=FORM)
    assert (answer.status_code, answer.text) == (400, "fail")
    assert not sink.captures
    [(letter, kept, headers)] = sink.letters
    assert letter.reason.code == "payment.alipay.signature"
    assert letter.reason.field == WHOLE and "not Alipay's" in letter.reason.en
    assert (
        letter.source.topic == "/payments/alipay/notify" and letter.processor == "payments.notify"
    )
    assert kept == body and headers["content-type"].startswith("application/x-www-form")


def test_a_paid_wechatpay_trade_of_ours_is_captured_and_answered_204(
    client: TestClient, sink: Letters, keyring: KeyRing
) -> None:
    data = fixture("wechatpay_notify_paid.json")
    data["resource"]["out_trade_no"] = trade_no(ORDER, 3)
    headers, body = wechatpay_post(data, keyring)
    answer = client.post("/payments/wechatpay/notify", content=body, headers=headers)
    assert (answer.status_code, answer.content) == (204, b"")
    [capture] = sink.captures
    assert (capture.reference, capture.method) == (trade_no(ORDER, 3), "wechat_pay")


def test_a_wechatpay_notification_signed_by_a_stranger_is_refused_as_wechat_pay_expects(
    client: TestClient, sink: Letters, keyring: KeyRing, stranger: KeyRing
) -> None:
    data = fixture("wechatpay_notify_paid.json")
    data["resource"]["out_trade_no"] = trade_no(ORDER, 3)
    headers, body = wechatpay_post(data, keyring, signer=stranger.wechatpay_platform)
    answer = client.post("/payments/wechatpay/notify", content=body, headers=headers)
    assert answer.status_code == 400
    assert answer.json()["code"] == "FAIL" and answer.json()["message"]
    [(letter, _, kept)] = sink.letters
    assert letter.reason.code == "payment.wechatpay.signature" and not sink.captures
    assert kept["wechatpay-signature"] == headers["Wechatpay-Signature"]


def test_a_paid_trade_that_is_not_ours_is_acknowledged_and_left_for_an_operator(
    client: TestClient, sink: Letters, keyring: KeyRing
) -> None:
    body = alipay_paid(keyring, "P-TM-1001-1")  # the channel's numbering, not ours
    answer = client.post("/payments/alipay/notify", content=body, headers=FORM)
    assert (answer.status_code, answer.text) == (200, "success")
    [(letter, _, _)] = sink.letters
    assert letter.reason.code == "payment.alipay.unknown_trade" and not sink.captures


def test_a_provider_we_do_not_know_is_refused_by_the_path(client: TestClient) -> None:
    assert client.post("/payments/paypal/notify", content=b"{}").status_code == 422


def test_the_failure_answers_are_the_providers_documented_ones(keyring: KeyRing) -> None:
    assert alipay_gateway(keyring).refusal("bad") == (400, "text/plain", b"fail")
    status, media_type, body = wechatpay_gateway(keyring).refusal("验签失败")
    assert (status, media_type) == (400, "application/json")
    assert json.loads(body) == {"code": "FAIL", "message": "验签失败"}


def test_a_refund_notified_settles_the_refund_share_it_names(
    client: TestClient, sink: Letters, keyring: KeyRing
) -> None:
    # Alipay's: the desk recorded it already; settling it again moves nothing.
    params = {**fixture("alipay_notify_refund.json"), "out_trade_no": trade_no(ORDER, 1)}
    body = alipay_body(params, keyring.alipay_platform)
    answer = client.post("/payments/alipay/notify", content=body, headers=FORM)
    assert (answer.status_code, answer.text) == (200, "success")
    # WeChat Pay's: the refund was accepted as PROCESSING; this settles it.
    data = fixture("wechatpay_notify_refund.json")
    data["resource"]["out_trade_no"] = trade_no(ORDER, 3)
    headers, body = wechatpay_post(data, keyring)
    answer = client.post("/payments/wechatpay/notify", content=body, headers=headers)
    assert answer.status_code == 204
    assert not sink.captures and not sink.letters
    alipay, wechat = sink.settled
    assert alipay.succeeded and alipay.tender == trade_no(ORDER, 1) and alipay.order_id == ORDER
    assert alipay.refund_key == "R-TM-1001-1-1"
    assert alipay.provider_refund_id == "2013112011001004330000121536/R-TM-1001-1-1"
    assert wechat.succeeded and wechat.tender == trade_no(ORDER, 3)
    assert wechat.refund_key == "R-JD-2002-1-1" and wechat.provider_refund_id


def test_a_refund_the_provider_failed_settles_it_as_failed(
    client: TestClient, sink: Letters, keyring: KeyRing
) -> None:
    data = fixture("wechatpay_notify_refund.json")
    data["envelope"]["event_type"] = "REFUND.ABNORMAL"
    data["resource"]["refund_status"] = "ABNORMAL"
    data["resource"]["out_trade_no"] = trade_no(ORDER, 3)
    headers, body = wechatpay_post(data, keyring)
    answer = client.post("/payments/wechatpay/notify", content=body, headers=headers)
    assert answer.status_code == 204  # verified: resending it would change nothing
    [settled] = sink.settled
    assert not settled.succeeded and "REFUND.ABNORMAL" in settled.failure
    assert settled.refund_key == "R-JD-2002-1-1" and not sink.captures and not sink.letters
