"""WeChat Pay v3 notification: Wechatpay-Signature over timestamp, nonce and body by
the platform key; the resource AEAD_AES_256_GCM-encrypted under the APIv3 key."""

from __future__ import annotations

import base64
import json
import time

import pytest

from oms_events.payments.gateway import NotificationRefused, PaymentNotification, RefusalCode
from oms_events.payments.keys import KeyRing
from oms_events.payments.wechatpay import WechatPayGateway

from .conftest import fixture, sign_wechatpay, wechatpay_gateway, wechatpay_post


@pytest.fixture
def gateway(keyring: KeyRing) -> WechatPayGateway:
    return wechatpay_gateway(keyring)  # never calls out here


def refused(gateway: WechatPayGateway, headers: dict[str, str], body: bytes) -> NotificationRefused:
    with pytest.raises(NotificationRefused) as caught:
        gateway.parse_notification(headers, body)
    return caught.value


def test_a_valid_payment_notification_verifies_decrypts_and_reads(
    gateway: WechatPayGateway, keyring: KeyRing
) -> None:
    headers, body = wechatpay_post(fixture("wechatpay_notify_paid.json"), keyring)
    assert gateway.parse_notification(headers, body) == PaymentNotification(
        provider="wechatpay",
        notify_id="EV-2018022511223320873",
        out_trade_no="P-JD-2002-1",
        transaction_id="1217752501201407033233368018",
        status="paid",
        amount=12999,
        currency="CNY",
    )


def test_header_names_are_read_whatever_their_case(
    gateway: WechatPayGateway, keyring: KeyRing
) -> None:
    headers, body = wechatpay_post(fixture("wechatpay_notify_paid.json"), keyring)
    lowered = {k.lower(): v for k, v in headers.items()}
    assert gateway.parse_notification(lowered, body).status == "paid"


def test_a_body_changed_after_signing_is_refused(
    gateway: WechatPayGateway, keyring: KeyRing
) -> None:
    headers, body = wechatpay_post(fixture("wechatpay_notify_paid.json"), keyring)
    tampered = body.replace(b"TRANSACTION.SUCCESS", b"REFUND.SUCCESS")
    error = refused(gateway, headers, tampered)
    assert error.code is RefusalCode.SIGNATURE
    assert "does not sign this body" in error.reason


def test_a_signature_by_another_key_is_refused(
    gateway: WechatPayGateway, keyring: KeyRing, stranger: KeyRing
) -> None:
    headers, body = wechatpay_post(
        fixture("wechatpay_notify_paid.json"), keyring, signer=stranger.wechatpay_platform
    )
    assert refused(gateway, headers, body).code is RefusalCode.SIGNATURE


def test_an_unknown_platform_serial_is_refused(gateway: WechatPayGateway, keyring: KeyRing) -> None:
    headers, body = wechatpay_post(fixture("wechatpay_notify_paid.json"), keyring)
    error = refused(
        gateway, {**headers, "Wechatpay-Serial": "5157F09EFDC096DE15EBE81A47057A72"}, body
    )
    assert error.code is RefusalCode.SIGNATURE
    assert "Wechatpay-Serial" in error.reason


def test_a_flipped_ciphertext_fails_the_gcm_tag(
    gateway: WechatPayGateway, keyring: KeyRing
) -> None:
    _, body = wechatpay_post(fixture("wechatpay_notify_paid.json"), keyring)
    envelope = json.loads(body)
    raw = bytearray(base64.b64decode(envelope["resource"]["ciphertext"]))
    raw[5] ^= 0x01  # an amount digit, say: GCM notices any bit
    envelope["resource"]["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    tampered = json.dumps(envelope).encode()
    # Signed by the platform key so that only the decryption can catch it.
    error = refused(gateway, sign_wechatpay(tampered, keyring), tampered)
    assert error.code is RefusalCode.DECRYPTION
    assert "GCM tag" in error.reason


def test_a_resource_encrypted_under_another_apiv3_key_is_refused(
    gateway: WechatPayGateway, keyring: KeyRing, stranger: KeyRing
) -> None:
    headers, body = wechatpay_post(
        fixture("wechatpay_notify_paid.json"), keyring, apiv3=stranger.wechatpay_apiv3
    )
    assert refused(gateway, headers, body).code is RefusalCode.DECRYPTION


def test_a_notification_signed_long_ago_is_refused_as_stale(
    gateway: WechatPayGateway, keyring: KeyRing
) -> None:
    headers, body = wechatpay_post(
        fixture("wechatpay_notify_paid.json"), keyring, timestamp=int(time.time()) - 3600
    )
    assert refused(gateway, headers, body).code is RefusalCode.STALE


def test_another_merchants_notification_is_refused(
    gateway: WechatPayGateway, keyring: KeyRing
) -> None:
    data = fixture("wechatpay_notify_paid.json")
    data["resource"]["mchid"] = "1900009999"
    headers, body = wechatpay_post(data, keyring)
    assert refused(gateway, headers, body).code is RefusalCode.MERCHANT


def test_a_resend_signed_anew_is_the_same_notify_id(
    gateway: WechatPayGateway, keyring: KeyRing
) -> None:
    headers, body = wechatpay_post(fixture("wechatpay_notify_paid.json"), keyring)
    first = gateway.parse_notification(headers, body)
    # WeChat Pay signs each attempt with a new timestamp and nonce; the body's id stays.
    again = gateway.parse_notification(
        sign_wechatpay(body, keyring, timestamp=int(time.time()) + 15), body
    )
    assert again.notify_id == first.notify_id
    assert again == first


def test_a_refund_notification_read_before_the_payment_keeps_its_own_status(
    gateway: WechatPayGateway, keyring: KeyRing
) -> None:
    refund = gateway.parse_notification(
        *wechatpay_post(fixture("wechatpay_notify_refund.json"), keyring)
    )
    paid = gateway.parse_notification(
        *wechatpay_post(fixture("wechatpay_notify_paid.json"), keyring)
    )
    assert (refund.status, refund.refund_no, refund.refund_amount, refund.amount) == (
        "refunded",
        "R-JD-2002-1-1",
        3000,
        12999,
    )
    assert refund.currency == "CNY"  # a refund's amount has none: the trade's
    assert (paid.status, paid.refund_no, paid.refund_amount) == ("paid", None, None)


def test_a_closed_refund_reads_as_failed(gateway: WechatPayGateway, keyring: KeyRing) -> None:
    data = fixture("wechatpay_notify_refund.json")
    data["envelope"]["event_type"] = "REFUND.CLOSED"
    data["resource"]["refund_status"] = "CLOSED"
    assert gateway.parse_notification(*wechatpay_post(data, keyring)).status == "refund_failed"
