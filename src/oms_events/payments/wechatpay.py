"""WeChat Pay API v3 behind the :mod:`~oms_events.payments.gateway` port.

Mechanics, as WeChat Pay documents them (see tests/fixtures/payments/README.md):

* Requests carry ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",
  signature="…",timestamp="…",serial_no="…"``; the signature is SHA256withRSA, by the
  merchant's API key, over ``METHOD\\nURL\\ntimestamp\\nnonce\\nbody\\n``.
* Answers and notifications carry ``Wechatpay-Timestamp``, ``Wechatpay-Nonce``,
  ``Wechatpay-Signature`` and ``Wechatpay-Serial``; the signature is SHA256withRSA, by
  the platform certificate named by the serial, over ``timestamp\\nnonce\\nbody\\n``.
* A notification's JSON body has an ``id`` (the same on every resend), an
  ``event_type`` (``TRANSACTION.SUCCESS``, ``REFUND.SUCCESS``, ``REFUND.ABNORMAL``,
  ``REFUND.CLOSED``) and a ``resource`` encrypted with AEAD_AES_256_GCM under the
  merchant's APIv3 key: ``ciphertext`` (base64, the 16-byte tag at its end), ``nonce``
  and ``associated_data`` (both plain text).
* A refund (``POST /v3/refund/domestic/refunds``) is idempotent on ``out_refund_no``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from oms_events.payments import keys
from oms_events.payments.gateway import (
    GatewayError,
    NotificationRefused,
    NotificationStatus,
    PaymentNotification,
    PaymentRequested,
    Provider,
    RefundAccepted,
    RefusalCode,
)

AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
ALGORITHM = "AEAD_AES_256_GCM"
MAX_CLOCK_SKEW_S = 300  # WeChat Pay's SDKs refuse answers and notifications older than 5 min
PAY_PATH = "/v3/pay/transactions/native"
REFUND_PATH = "/v3/refund/domestic/refunds"
CLOSE_PATH = "/v3/pay/transactions/out-trade-no/{out_trade_no}/close"
_AUTH_FIELD = re.compile(r'(\w+)="([^"]*)"')


def request_message(method: str, url: str, timestamp: str, nonce: str, body: str) -> bytes:
    """What a merchant signs: method, path with query, timestamp, nonce, body; each
    line ends with ``\\n``."""
    return f"{method}\n{url}\n{timestamp}\n{nonce}\n{body}\n".encode()


def response_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """What the platform signs in an answer or a notification."""
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def authorization(
    mchid: str, serial: str, key: rsa.RSAPrivateKey, method: str, url: str, body: str
) -> str:
    """The ``Authorization`` header of one request."""
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
    signature = keys.sign(key, request_message(method, url, timestamp, nonce, body))
    return (
        f'{AUTH_SCHEME} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial}"'
    )


def parse_authorization(header: str) -> dict[str, str]:
    """The fields of an ``Authorization`` header; empty when the scheme is not ours."""
    scheme, _, rest = header.partition(" ")
    return dict(_AUTH_FIELD.findall(rest)) if scheme == AUTH_SCHEME else {}


def encrypt_resource(
    apiv3_key: bytes, plaintext: bytes, associated_data: str, original_type: str
) -> dict[str, str]:
    """A notification's ``resource`` object (what the platform sends)."""
    nonce = secrets.token_hex(6)  # 12 characters, as WeChat Pay's nonces are
    ciphertext = AESGCM(apiv3_key).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return {
        "original_type": original_type,
        "algorithm": ALGORITHM,
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
    }


def decrypt_resource(apiv3_key: bytes, resource: Mapping[str, Any]) -> bytes:
    """The plaintext of a ``resource``; InvalidTag when key, text, nonce or associated
    data differ from what was encrypted."""
    return AESGCM(apiv3_key).decrypt(
        str(resource["nonce"]).encode(),
        base64.b64decode(str(resource["ciphertext"]), validate=True),
        str(resource.get("associated_data") or "").encode(),
    )


def header(headers: Mapping[str, str], name: str) -> str:
    """A header by name whatever its case (HTTP servers differ)."""
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), "")


class WechatPayGateway:
    """The merchant's side of WeChat Pay API v3: requests out, notifications in."""

    provider: Provider = "wechatpay"

    def __init__(
        self,
        mchid: str,
        appid: str,
        merchant_key: rsa.RSAPrivateKey,
        merchant_serial: str,
        platform_keys: Mapping[str, rsa.RSAPublicKey],
        apiv3_key: bytes,
        api_url: str,
        notify_url: str,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.mchid = mchid
        self.appid = appid
        self.merchant_key = merchant_key
        self.merchant_serial = merchant_serial
        self.platform_keys = dict(platform_keys)  # by serial: WeChat Pay rotates certificates
        self.apiv3_key = apiv3_key
        self.api_url = api_url.rstrip("/")
        self.notify_url = notify_url
        self.http = http or httpx.Client(timeout=10.0)
        self.clock = clock

    @property
    def acknowledgement(self) -> tuple[int, str, bytes]:
        """WeChat Pay stops resending on a 2xx; 204 with no body is what it documents."""
        return 204, "application/json", b""

    def refusal(self, reason: str) -> tuple[int, str, bytes]:
        """A 4xx/5xx with ``{"code": "FAIL", "message": …}``, as WeChat Pay documents."""
        body = json.dumps({"code": "FAIL", "message": reason}, ensure_ascii=False)
        return 400, "application/json", body.encode()

    # -- requests -------------------------------------------------------------
    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        auth = authorization(
            self.mchid, self.merchant_serial, self.merchant_key, "POST", path, body
        )
        response = self.http.post(
            self.api_url + path,
            content=body.encode(),
            headers={
                "Authorization": auth,
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        problem = self._signature_problem(response.headers, response.content)
        if problem:
            raise GatewayError(f"POST {path}: the answer is not the platform's ({problem})")
        answer: dict[str, Any] = json.loads(response.content or b"{}")
        if response.status_code >= 300:
            raise GatewayError(
                f"POST {path} refused: {response.status_code} {answer.get('code')} "
                f"{answer.get('message')}"
            )
        return answer

    def request_payment(
        self, out_trade_no: str, amount: int, currency: str, subject: str
    ) -> PaymentRequested:
        """Native payment: a ``code_url`` the customer scans."""
        answer = self._post(
            PAY_PATH,
            {
                "appid": self.appid,
                "mchid": self.mchid,
                "description": subject,
                "out_trade_no": out_trade_no,
                "notify_url": self.notify_url,
                "amount": {"total": amount, "currency": currency},
            },
        )
        return PaymentRequested("wechatpay", out_trade_no, str(answer["code_url"]))

    def request_refund(
        self,
        out_trade_no: str,
        refund_no: str,
        amount: int,
        trade_amount: int,
        currency: str,
        reason: str,
    ) -> RefundAccepted:
        """A domestic refund with ``out_refund_no`` = ``refund_no``."""
        answer = self._post(
            REFUND_PATH,
            {
                "out_trade_no": out_trade_no,
                "out_refund_no": refund_no,
                "reason": reason,
                "notify_url": self.notify_url,
                "amount": {"refund": amount, "total": trade_amount, "currency": currency},
            },
        )
        return RefundAccepted(
            provider="wechatpay",
            out_trade_no=out_trade_no,
            refund_no=refund_no,
            amount=int(answer["amount"]["refund"]),
            provider_refund_id=str(answer["refund_id"]),
            settled=answer.get("status") == "SUCCESS",
        )

    def close_trade(self, out_trade_no: str) -> None:
        """Close order (``POST …/out-trade-no/{out_trade_no}/close``, 204); WeChat Pay
        answers a closed trade's close with success too, and a trade never opened
        (``ORDER_NOT_EXIST``) is as good as closed."""
        try:
            self._post(CLOSE_PATH.format(out_trade_no=out_trade_no), {"mchid": self.mchid})
        except GatewayError as error:
            if "ORDER_NOT_EXIST" not in str(error):
                raise

    # -- notifications ----------------------------------------------------------
    def _signature_problem(self, headers: Mapping[str, str], body: bytes) -> str:
        """Why these headers do not sign ``body``; empty when they do."""
        timestamp = header(headers, "Wechatpay-Timestamp")
        nonce = header(headers, "Wechatpay-Nonce")
        signature = header(headers, "Wechatpay-Signature")
        serial = header(headers, "Wechatpay-Serial")
        if not (timestamp and nonce and signature and serial):
            return "Wechatpay-Timestamp, -Nonce, -Signature or -Serial missing"
        key = self.platform_keys.get(serial)
        if key is None:
            return f"Wechatpay-Serial {serial} is no platform certificate we know"
        if not keys.verify(key, response_message(timestamp, nonce, body), signature):
            return "Wechatpay-Signature does not sign this body"
        return ""

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> PaymentNotification:
        """Verify the header signature, check its age, decrypt the resource, read it."""
        problem = self._signature_problem(headers, body)
        if problem:
            raise self._refused(RefusalCode.SIGNATURE, problem)
        # Checked after the signature so that a forged timestamp is a signature failure.
        try:
            age = abs(self.clock() - int(header(headers, "Wechatpay-Timestamp")))
        except ValueError:
            raise self._refused(RefusalCode.MALFORMED, "Wechatpay-Timestamp is no number") from None
        if age > MAX_CLOCK_SKEW_S:
            raise self._refused(RefusalCode.STALE, f"signed {age:.0f}s away from our clock")
        try:
            envelope = json.loads(body)
            resource = envelope["resource"]
            if resource.get("algorithm") != ALGORITHM:
                raise self._refused(
                    RefusalCode.UNSUPPORTED, f"resource algorithm {resource.get('algorithm')!r}"
                )
            plaintext = decrypt_resource(self.apiv3_key, resource)
        except InvalidTag:
            raise self._refused(
                RefusalCode.DECRYPTION,
                "resource does not decrypt under our APIv3 key (GCM tag mismatch)",
            ) from None
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as e:
            raise self._refused(RefusalCode.MALFORMED, f"unreadable envelope: {e!r}") from None
        try:
            return self._read(envelope, json.loads(plaintext))
        except (ValueError, KeyError, TypeError) as e:
            raise self._refused(RefusalCode.MALFORMED, f"unreadable resource: {e!r}") from None

    def _read(self, envelope: dict[str, Any], data: dict[str, Any]) -> PaymentNotification:
        if data.get("mchid") != self.mchid:
            raise self._refused(RefusalCode.MERCHANT, f"mchid {data.get('mchid')!r} is not ours")
        event_type = str(envelope["event_type"])
        refund_statuses: dict[str, NotificationStatus] = {
            "REFUND.SUCCESS": "refunded",
            "REFUND.ABNORMAL": "refund_failed",
            "REFUND.CLOSED": "refund_failed",
        }
        status: NotificationStatus
        if event_type == "TRANSACTION.SUCCESS" and data.get("trade_state") == "SUCCESS":
            status = "paid"
        elif event_type in refund_statuses:
            status = refund_statuses[event_type]
        else:
            raise self._refused(RefusalCode.UNSUPPORTED, f"event_type {event_type} moves no money")
        amount = data["amount"]
        refund = status != "paid"
        return PaymentNotification(
            provider="wechatpay",
            notify_id=str(envelope["id"]),
            out_trade_no=str(data["out_trade_no"]),
            transaction_id=str(data["transaction_id"]),
            status=status,
            amount=int(amount["total"]),
            # A refund notification's amount has no currency: it is the trade's.
            currency=str(amount.get("currency", "CNY")),
            refund_no=str(data["out_refund_no"]) if refund else None,
            refund_amount=int(amount["refund"]) if refund else None,
            provider_refund_id=str(data.get("refund_id") or "") if refund else "",
            failure=f"{event_type} {data.get('refund_status', '')}".strip()
            if status == "refund_failed"
            else "",
        )

    @staticmethod
    def _refused(code: RefusalCode, message: str) -> NotificationRefused:
        return NotificationRefused("wechatpay", code, message)
