"""Alipay's asynchronous notification: RSA2 over the sorted parameters, verified with
Alipay's public key; tampered ones refused with the reason, resends recognised."""

from __future__ import annotations

import pytest

from oms_events.payments.alipay import AlipayGateway, signing_content
from oms_events.payments.gateway import NotificationRefused, PaymentNotification, RefusalCode
from oms_events.payments.keys import KeyRing

from .conftest import alipay_body, alipay_gateway, fixture

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


@pytest.fixture
def gateway(keyring: KeyRing) -> AlipayGateway:
    return alipay_gateway(keyring)  # never calls out here


def refused(gateway: AlipayGateway, body: bytes) -> NotificationRefused:
    with pytest.raises(NotificationRefused) as caught:
        gateway.parse_notification(FORM, body)
    return caught.value


def test_the_signed_string_leaves_out_sign_sign_type_and_empty_values() -> None:
    params = {"b": "2", "a": "1", "sign": "x", "sign_type": "RSA2", "empty": "", "c": "中"}
    assert signing_content(params, notification=True) == "a=1&b=2&c=中".encode()
    # A request signs its sign_type; only a notification leaves it out.
    assert signing_content(params, notification=False) == "a=1&b=2&c=中&sign_type=RSA2".encode()


def test_a_valid_payment_notification_verifies_and_reads_in_fen(
    gateway: AlipayGateway, keyring: KeyRing
) -> None:
    body = alipay_body(fixture("alipay_notify_paid.json"), keyring.alipay_platform)
    assert gateway.parse_notification(FORM, body) == PaymentNotification(
        provider="alipay",
        notify_id="ac05099524730693a8b330c5ecf72da978",
        out_trade_no="P-TM-1001-1",
        transaction_id="2013112011001004330000121536",
        status="paid",
        amount=8880,
        currency="CNY",
    )


def test_a_changed_amount_breaks_the_signature(gateway: AlipayGateway, keyring: KeyRing) -> None:
    body = alipay_body(fixture("alipay_notify_paid.json"), keyring.alipay_platform)
    tampered = body.replace(b"total_amount=88.80", b"total_amount=0.01")
    assert tampered != body
    error = refused(gateway, tampered)
    assert error.code is RefusalCode.SIGNATURE
    assert "not Alipay's" in error.reason


def test_a_second_value_appended_to_a_signed_post_is_refused(
    gateway: AlipayGateway, keyring: KeyRing
) -> None:
    body = alipay_body(fixture("alipay_notify_paid.json"), keyring.alipay_platform)
    assert refused(gateway, body + b"&total_amount=0.01").code is RefusalCode.MALFORMED


def test_a_notification_signed_by_another_key_is_refused(
    gateway: AlipayGateway, stranger: KeyRing
) -> None:
    body = alipay_body(fixture("alipay_notify_paid.json"), stranger.alipay_platform)
    assert refused(gateway, body).code is RefusalCode.SIGNATURE


def test_a_notification_without_rsa2_is_refused(gateway: AlipayGateway, keyring: KeyRing) -> None:
    params = {**fixture("alipay_notify_paid.json"), "sign_type": "RSA"}
    error = refused(gateway, alipay_body(params, keyring.alipay_platform))
    assert error.code is RefusalCode.SIGNATURE
    assert "RSA2" in error.reason


def test_another_apps_notification_is_refused(gateway: AlipayGateway, keyring: KeyRing) -> None:
    params = {**fixture("alipay_notify_paid.json"), "app_id": "2021000000009999"}
    assert refused(gateway, alipay_body(params, keyring.alipay_platform)).code is (
        RefusalCode.MERCHANT
    )


def test_a_resend_is_the_same_notify_id(gateway: AlipayGateway, keyring: KeyRing) -> None:
    body = alipay_body(fixture("alipay_notify_paid.json"), keyring.alipay_platform)
    first = gateway.parse_notification(FORM, body)
    again = gateway.parse_notification(FORM, body)
    assert again.notify_id == first.notify_id
    assert again == first  # the caller that recorded the first can ignore it


def test_a_refund_notification_read_before_the_payment_keeps_its_own_status(
    gateway: AlipayGateway, keyring: KeyRing
) -> None:
    refund = gateway.parse_notification(
        FORM, alipay_body(fixture("alipay_notify_refund.json"), keyring.alipay_platform)
    )
    paid = gateway.parse_notification(
        FORM, alipay_body(fixture("alipay_notify_paid.json"), keyring.alipay_platform)
    )
    assert (refund.status, refund.refund_no, refund.refunded_total) == (
        "refunded",
        "R-TM-1001-1-1",
        8880,
    )
    assert (paid.status, paid.refund_no) == ("paid", None)
    assert refund.out_trade_no == paid.out_trade_no and refund.notify_id != paid.notify_id


def test_a_trade_closed_unpaid_is_closed(gateway: AlipayGateway, keyring: KeyRing) -> None:
    params = {**fixture("alipay_notify_paid.json"), "trade_status": "TRADE_CLOSED"}
    closed = gateway.parse_notification(FORM, alipay_body(params, keyring.alipay_platform))
    assert closed.status == "closed"


def test_a_refusal_becomes_a_dead_letter_reason(gateway: AlipayGateway, stranger: KeyRing) -> None:
    body = alipay_body(fixture("alipay_notify_paid.json"), stranger.alipay_platform)
    reason = refused(gateway, body).dead_letter_reason()
    assert reason.code == "payment.alipay.signature"
    assert "not Alipay's" in reason.en and "验签失败" in reason.zh
    assert reason.error_class == "NotificationRefused"
