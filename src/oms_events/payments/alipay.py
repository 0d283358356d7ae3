"""Alipay (open platform, gateway.do) behind the :mod:`~oms_events.payments.gateway` port.

Mechanics, as Alipay documents them (see tests/fixtures/payments/README.md):

* Requests are form posts to ``gateway.do`` with the common parameters (``app_id``,
  ``method``, ``charset``, ``sign_type=RSA2``, ``timestamp``, ``version``,
  ``biz_content`` as JSON) signed with the merchant's app private key.
* Answers are JSON ``{"<method>_response": {...}, "sign": "..."}``; the signature
  covers the response object's text exactly as sent, verified with Alipay's public key.
* The asynchronous notification is a form post to ``notify_url``. Its signed string is
  every parameter but ``sign`` and ``sign_type``, empty values skipped, sorted by name,
  joined as ``k=v`` with ``&``; RSA2 is SHA256withRSA. The merchant answers ``success``
  or Alipay resends (same ``notify_id``) for about a day.
* A refund (``alipay.trade.refund``) is idempotent on ``out_request_no``; a refund
  notification carries ``out_biz_no`` (that number) and ``refund_fee``, the total
  refunded on the trade; the trade stays ``TRADE_SUCCESS`` after a partial refund and
  becomes ``TRADE_CLOSED`` after a full one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

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
    to_decimal_text,
    to_minor,
)

SUCCESS_CODE = "10000"
CHINA = timezone(timedelta(hours=8))  # Alipay's timestamps are Beijing time


def signing_content(params: Mapping[str, str], *, notification: bool) -> bytes:
    """The string Alipay signs: sorted ``k=v`` pairs joined by ``&``, empty values and
    ``sign`` left out; a notification's ``sign_type`` is left out too (a request's is
    signed)."""
    excluded = {"sign", "sign_type"} if notification else {"sign"}
    pairs = sorted((k, v) for k, v in params.items() if k not in excluded and v != "")
    return "&".join(f"{k}={v}" for k, v in pairs).encode()


def response_node(method: str) -> str:
    """The key of an answer's signed object: ``alipay.trade.refund`` answers in
    ``alipay_trade_refund_response``."""
    return method.replace(".", "_") + "_response"


def signed_response_text(body: str, node: str) -> str:
    """The response object's text exactly as sent, which is what Alipay signed."""
    start = body.find(f'"{node}"')
    if start < 0:
        node = "error_response"
        start = body.find(f'"{node}"')
    if start < 0:
        raise GatewayError(f"Alipay answered without a response object: {body[:200]}")
    colon = body.index(":", start + len(node) + 2)
    value_start = colon + 1
    while body[value_start] in " \t\r\n":
        value_start += 1
    _, end = json.JSONDecoder().raw_decode(body, value_start)
    return body[value_start:end]


class AlipayGateway:
    """The merchant's side of Alipay: requests out, notifications in."""

    provider: Provider = "alipay"

    def __init__(
        self,
        app_id: str,
        app_key: rsa.RSAPrivateKey,
        alipay_public_key: rsa.RSAPublicKey,
        gateway_url: str,
        notify_url: str,
        http: httpx.Client | None = None,
    ) -> None:
        self.app_id = app_id
        self.app_key = app_key
        self.alipay_public_key = alipay_public_key
        self.gateway_url = gateway_url
        self.notify_url = notify_url
        self.http = http or httpx.Client(timeout=10.0)

    @property
    def acknowledgement(self) -> tuple[int, str, bytes]:
        """Alipay stops resending when the body is exactly ``success``."""
        return 200, "text/plain", b"success"

    def refusal(self, reason: str) -> tuple[int, str, bytes]:
        """Anything but ``success`` makes Alipay resend; ``fail`` is what it documents."""
        return 400, "text/plain", b"fail"

    # -- requests -------------------------------------------------------------
    def _call(self, method: str, biz: dict[str, Any]) -> dict[str, Any]:
        params = {
            "app_id": self.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "notify_url": self.notify_url,
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        }
        params["sign"] = keys.sign(self.app_key, signing_content(params, notification=False))
        response = self.http.post(self.gateway_url, data=params)
        text = response.text
        node_text = signed_response_text(text, response_node(method))
        signature = json.loads(text).get("sign", "")
        if not keys.verify(self.alipay_public_key, node_text.encode(), signature):
            raise GatewayError(f"{method}: the answer's signature is not Alipay's")
        node: dict[str, Any] = json.loads(node_text)
        if node.get("code") != SUCCESS_CODE:
            raise GatewayError(
                f"{method} refused: {node.get('code')} {node.get('msg')} "
                f"{node.get('sub_code', '')} {node.get('sub_msg', '')}".strip()
            )
        return node

    def request_payment(
        self, out_trade_no: str, amount: int, currency: str, subject: str
    ) -> PaymentRequested:
        """``alipay.trade.precreate``: a QR code the customer scans."""
        _require_cny(currency)
        node = self._call(
            "alipay.trade.precreate",
            {
                "out_trade_no": out_trade_no,
                "total_amount": to_decimal_text(amount),
                "subject": subject,
            },
        )
        return PaymentRequested("alipay", out_trade_no, str(node["qr_code"]))

    def request_refund(
        self,
        out_trade_no: str,
        refund_no: str,
        amount: int,
        trade_amount: int,
        currency: str,
        reason: str,
    ) -> RefundAccepted:
        """``alipay.trade.refund`` with ``out_request_no`` = ``refund_no``; Alipay knows
        the trade's amount, so ``trade_amount`` is not sent."""
        _require_cny(currency)
        node = self._call(
            "alipay.trade.refund",
            {
                "out_trade_no": out_trade_no,
                "refund_amount": to_decimal_text(amount),
                "out_request_no": refund_no,
                "refund_reason": reason,
            },
        )
        return RefundAccepted(
            provider="alipay",
            out_trade_no=out_trade_no,
            refund_no=refund_no,
            amount=amount,
            # Alipay has no refund id: the trade and our request number name a refund.
            provider_refund_id=f"{node['trade_no']}/{refund_no}",
            settled=True,  # code 10000 means refunded; fund_change=N means "already was"
        )

    def close_trade(self, out_trade_no: str) -> None:
        """``alipay.trade.close``; a trade Alipay never created (a precreate nobody
        scanned: ``ACQ.TRADE_NOT_EXIST``) is as good as closed."""
        try:
            self._call("alipay.trade.close", {"out_trade_no": out_trade_no})
        except GatewayError as error:
            if "ACQ.TRADE_NOT_EXIST" not in str(error):
                raise

    # -- notifications ----------------------------------------------------------
    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> PaymentNotification:
        """Verify the RSA2 signature of a notify post and read it."""
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError) as e:
            raise self._refused(RefusalCode.MALFORMED, f"not a form post: {e}") from None
        params = dict(pairs)
        if len(params) != len(pairs):
            # Alipay sends each parameter once; a second value is someone else's.
            raise self._refused(RefusalCode.MALFORMED, "a parameter appears twice")
        signature = params.get("sign", "")
        if params.get("sign_type") != "RSA2" or not signature:
            raise self._refused(
                RefusalCode.SIGNATURE,
                f"sign_type {params.get('sign_type')!r} is not RSA2, or no sign",
            )
        if not keys.verify(
            self.alipay_public_key, signing_content(params, notification=True), signature
        ):
            raise self._refused(
                RefusalCode.SIGNATURE, "the sign is not Alipay's over these parameters"
            )
        if params.get("app_id") != self.app_id:
            raise self._refused(
                RefusalCode.MERCHANT, f"app_id {params.get('app_id')!r} is not ours"
            )
        try:
            return self._read(params)
        except (KeyError, ValueError) as e:
            raise self._refused(RefusalCode.MALFORMED, f"unreadable field: {e}") from None

    def _read(self, params: dict[str, str]) -> PaymentNotification:
        trade_status = params["trade_status"]
        refunded_total = to_minor(params["refund_fee"]) if params.get("refund_fee") else None
        status: NotificationStatus
        if refunded_total and trade_status in ("TRADE_SUCCESS", "TRADE_CLOSED"):
            status = "refunded"  # partial refunds leave the trade TRADE_SUCCESS
        elif trade_status in ("TRADE_SUCCESS", "TRADE_FINISHED"):
            status = "paid"
        elif trade_status == "TRADE_CLOSED":
            status = "closed"
        else:
            raise self._refused(
                RefusalCode.UNSUPPORTED, f"trade_status {trade_status} moves no money"
            )
        return PaymentNotification(
            provider="alipay",
            notify_id=params["notify_id"],
            out_trade_no=params["out_trade_no"],
            transaction_id=params["trade_no"],
            status=status,
            amount=to_minor(params["total_amount"]),
            currency="CNY",
            refund_no=(params.get("out_biz_no") or None) if status == "refunded" else None,
            refunded_total=refunded_total if status == "refunded" else None,
            # As the refund's answer names it (see request_refund).
            provider_refund_id=f"{params['trade_no']}/{params.get('out_biz_no', '')}"
            if status == "refunded"
            else "",
        )

    @staticmethod
    def _refused(code: RefusalCode, message: str) -> NotificationRefused:
        return NotificationRefused("alipay", code, message)


def _require_cny(currency: str) -> None:
    # Domestic Alipay trades settle in CNY; a cross-border acquirer is another product.
    if currency != "CNY":
        raise GatewayError(f"Alipay domestic trades are in CNY, not {currency}")
