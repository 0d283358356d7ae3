"""Local stand-ins for Alipay and WeChat Pay: loopback HTTP servers that check the
merchant's request signatures, keep trades and refunds in memory, and post signed
(WeChat Pay: also encrypted) notifications to the merchant's notify URL.

``pay(out_trade_no)`` (or ``POST /sandbox/pay {"out_trade_no": …}`` from another
process) plays the customer paying. Refunds are idempotent on the merchant's key, as
the providers' are: the same key again answers the first result and moves no money.
A notification not acknowledged is resent on a (compressed) retry schedule, with the
same id, as the providers do; ``resend(notify_id)`` replays one at once.

``python -m oms_events.payments.sandbox`` runs both on the ports of
``settings.payments`` until SIGTERM; ``oms dev up`` starts it so.
"""

from __future__ import annotations

import itertools
import json
import signal
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

from oms_events.payments import alipay, keys, wechatpay
from oms_events.payments.gateway import to_decimal_text, to_minor
from oms_events.payments.keys import KeyRing

Answer = tuple[int, dict[str, str], bytes]

# Providers resend a notification until the merchant acknowledges it (WeChat Pay after
# 15s, 15s, 30s, 3m, 10m…; Alipay after 4m, 10m, 10m, 1h…). The sandbox keeps the
# pattern, compressed so that a development loop sees a retry within seconds.
RETRY_DELAYS_S = (2.0, 5.0, 15.0, 30.0, 60.0, 180.0)


@dataclass
class Delivery:
    """One notification, its attempts, and what the merchant last answered (None:
    unreachable)."""

    notify_id: str
    url: str
    headers: dict[str, str]
    body: bytes
    answered: int | None = None
    acknowledged: bool = False  # the provider stops resending once the merchant says so
    attempts: int = 0


@dataclass
class Trade:
    """A trade as the provider keeps it."""

    out_trade_no: str
    transaction_id: str
    amount: int
    currency: str
    subject: str
    notify_url: str
    appid: str = ""  # WeChat Pay: the app the customer pays in
    paid: bool = False
    closed: bool = False  # closed unpaid by the merchant: it can no longer be paid
    refunded: int = 0
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> first answer


class Sandbox:
    """The HTTP plumbing and money book both sandboxes share."""

    name = "sandbox"

    def __init__(
        self, keyring: KeyRing, port: int = 0, retry_delays: Sequence[float] = RETRY_DELAYS_S
    ) -> None:
        self.keys = keyring
        self.retry_delays = tuple(retry_delays)
        self._timers: set[threading.Timer] = set()
        self._stopped = False
        self.trades: dict[str, Trade] = {}
        self.deliveries: dict[str, Delivery] = {}
        self.lock = threading.RLock()
        self._numbers = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._http = httpx.Client(timeout=10.0)

    @property
    def port(self) -> int:
        """The port it listens on (the one asked for, or the one the OS chose for 0)."""
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Sandbox:
        """Serve on a background thread."""
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            args=(0.05,),  # how soon stop() is noticed (the default half second adds up in tests)
            name=f"{self.name}-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and resending, and release the port."""
        with self.lock:
            self._stopped = True
            for timer in self._timers:
                timer.cancel()
        self.server.shutdown()
        self.server.server_close()
        self._http.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def number(self) -> int:
        """A sequence number for the provider's own references."""
        return next(self._numbers)

    # -- money --------------------------------------------------------------
    def pay(self, out_trade_no: str) -> Delivery:
        """The customer pays the whole trade; the payment notification is posted."""
        with self.lock:
            trade = self.trades.get(out_trade_no)
            if trade is None:
                raise KeyError(f"no trade {out_trade_no} at the {self.name} sandbox")
            if trade.paid:
                raise ValueError(f"trade {out_trade_no} is already paid")
            if trade.closed:
                raise ValueError(f"trade {out_trade_no} is closed")
            trade.paid = True
            delivery = self.payment_notification(trade)
        return self.deliver(delivery)

    def close(self, out_trade_no: str) -> str:
        """Close an unpaid trade; the provider's error code, or "" when closed (a trade
        already closed closes again)."""
        with self.lock:
            trade = self.trades.get(out_trade_no)
            if trade is None:
                return "TRADE_NOT_EXIST"
            if trade.paid:
                return "TRADE_STATUS_ERROR"
            trade.closed = True
            return ""

    def refunded(self, out_trade_no: str) -> int:
        """Money refunded on a trade so far, minor units: what left the merchant."""
        with self.lock:
            return self.trades[out_trade_no].refunded

    def resend(self, notify_id: str) -> Delivery:
        """Post a notification again now, as a provider's retry would (same id)."""
        delivery = self.deliveries[notify_id]
        self._post(delivery)
        return delivery

    def deliver(self, delivery: Delivery) -> Delivery:
        """Post one notification; unless acknowledged, resend it on the retry schedule."""
        with self.lock:
            self.deliveries[delivery.notify_id] = delivery
        self._post(delivery)
        self._retry_later(delivery)
        return delivery

    def _post(self, delivery: Delivery) -> None:
        # Never under the lock: the merchant may call us back while it handles this.
        if delivery.attempts:
            self.resign(delivery)
        delivery.attempts += 1
        try:
            response = self._http.post(
                delivery.url, content=delivery.body, headers=delivery.headers
            )
        except httpx.HTTPError:
            delivery.answered, delivery.acknowledged = None, False
            return
        delivery.answered = response.status_code
        delivery.acknowledged = self.acknowledges(response.status_code, response.content)

    def _retry_later(self, delivery: Delivery) -> None:
        with self.lock:
            step = delivery.attempts - 1
            if delivery.acknowledged or self._stopped or step >= len(self.retry_delays):
                return
            timer = threading.Timer(self.retry_delays[step], self._retry, (delivery,))
            timer.daemon = True
            # Keep only the pending ones: a long-running sandbox posts many notifications.
            self._timers = {t for t in self._timers if t.is_alive()} | {timer}
            timer.start()

    def _retry(self, delivery: Delivery) -> None:
        if self._stopped or delivery.acknowledged:
            return
        self._post(delivery)
        self._retry_later(delivery)

    def deliver_later(self, delivery: Delivery) -> None:
        """Post after the current answer has gone, as providers notify asynchronously."""
        threading.Thread(target=self.deliver, args=(delivery,), daemon=True).start()

    # -- per provider ---------------------------------------------------------
    def handle(self, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answer one request to the provider's API."""
        raise NotImplementedError

    def payment_notification(self, trade: Trade) -> Delivery:
        """The signed notification that ``trade`` was paid."""
        raise NotImplementedError

    def resign(self, delivery: Delivery) -> None:
        """Prepare ``delivery`` to be sent again (WeChat Pay signs each attempt anew)."""

    def acknowledges(self, status: int, body: bytes) -> bool:
        """Whether the merchant's answer stops the resending."""
        raise NotImplementedError

    def control(self, path: str, body: bytes) -> Answer | None:
        """``POST /sandbox/pay``: the customer pays, from another process."""
        if path != "/sandbox/pay":
            return None
        try:
            out_trade_no = str(json.loads(body)["out_trade_no"])
            delivery = self.pay(out_trade_no)
        except (KeyError, ValueError) as e:
            return _json(HTTPStatus.CONFLICT, {"error": str(e)})
        return _json(
            HTTPStatus.OK, {"notify_id": delivery.notify_id, "answered": delivery.answered}
        )


def _json(
    status: int, payload: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> Answer:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return status, {"Content-Type": "application/json", **(headers or {})}, body


def _handler(sandbox: Sandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items()}
            try:
                answer = sandbox.control(self.path, body) or sandbox.handle(
                    self.path, headers, body
                )
            except (ValueError, KeyError, TypeError) as e:
                # The providers answer a malformed request with PARAM_ERROR / 40002.
                answer = _json(HTTPStatus.BAD_REQUEST, {"code": "PARAM_ERROR", "message": repr(e)})
            status, answer_headers, answer_body = answer
            self.send_response(status)
            for name, value in answer_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer_body)))
            self.end_headers()
            self.wfile.write(answer_body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the caller's log says what happened; the stdlib's goes to stderr

    return Handler


def _now() -> str:
    return datetime.now(alipay.CHINA).strftime("%Y-%m-%d %H:%M:%S")


class AlipaySandbox(Sandbox):
    """``gateway.do`` with ``alipay.trade.precreate``, ``alipay.trade.refund`` and
    ``alipay.trade.close``."""

    name = "alipay"

    def __init__(
        self,
        keyring: KeyRing,
        app_id: str,
        port: int = 0,
        retry_delays: Sequence[float] = RETRY_DELAYS_S,
    ) -> None:
        super().__init__(keyring, port, retry_delays)
        self.app_id = app_id

    def handle(self, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        method = params.get("method", "")
        node = alipay.response_node(method) if method else "error_response"
        content = alipay.signing_content(params, notification=False)
        if params.get("sign_type") != "RSA2" or not keys.verify(
            self.keys.alipay_app.public_key(), content, params.get("sign", "")
        ):
            return self._answer(
                node, _failure("40002", "Invalid Arguments", "isv.invalid-signature")
            )
        if params.get("app_id") != self.app_id:
            return self._answer(node, _failure("40002", "Invalid Arguments", "isv.invalid-app-id"))
        biz = json.loads(params.get("biz_content") or "{}")
        if method == "alipay.trade.precreate":
            return self._answer(node, self._precreate(biz, params.get("notify_url", "")))
        if method == "alipay.trade.refund":
            return self._answer(node, self._refund(biz))
        if method == "alipay.trade.close":
            return self._answer(node, self._close(biz))
        return self._answer(node, _failure("40004", "Business Failed", "isv.invalid-method"))

    def acknowledges(self, status: int, body: bytes) -> bool:
        """Alipay: exactly ``success`` in the body; anything else is resent."""
        return status == HTTPStatus.OK and body.strip() == b"success"

    def _answer(self, node: str, payload: dict[str, Any]) -> Answer:
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        signature = keys.sign(self.keys.alipay_platform, text.encode())
        body = f'{{"{node}":{text},"sign":"{signature}"}}'.encode()
        return HTTPStatus.OK, {"Content-Type": "application/json;charset=utf-8"}, body

    def _precreate(self, biz: dict[str, Any], notify_url: str) -> dict[str, Any]:
        out_trade_no = str(biz["out_trade_no"])
        with self.lock:
            trade = self.trades.get(out_trade_no)
            if trade is None:
                trade = Trade(
                    out_trade_no=out_trade_no,
                    transaction_id=f"2026{self.number():024d}",
                    amount=to_minor(str(biz["total_amount"])),
                    currency="CNY",
                    subject=str(biz.get("subject", "")),
                    notify_url=notify_url,
                )
                self.trades[out_trade_no] = trade
        return {
            "code": alipay.SUCCESS_CODE,
            "msg": "Success",
            "out_trade_no": out_trade_no,
            "qr_code": f"https://qr.alipay.com/sandbox{trade.transaction_id[-8:]}",
        }

    def _close(self, biz: dict[str, Any]) -> dict[str, Any]:
        out_trade_no = str(biz.get("out_trade_no"))
        problem = self.close(out_trade_no)
        if problem:
            return _failure("40004", "Business Failed", f"ACQ.{problem}")
        trade = self.trades[out_trade_no]
        return {
            "code": alipay.SUCCESS_CODE,
            "msg": "Success",
            "trade_no": trade.transaction_id,
            "out_trade_no": out_trade_no,
        }

    def _refund(self, biz: dict[str, Any]) -> dict[str, Any]:
        out_trade_no, key = str(biz.get("out_trade_no")), str(biz.get("out_request_no") or "")
        with self.lock:
            trade = self.trades.get(out_trade_no)
            if trade is None or not trade.paid:
                return _failure("40004", "Business Failed", "ACQ.TRADE_NOT_EXIST")
            if not key:
                return _failure("40004", "Business Failed", "ACQ.INVALID_PARAMETER")
            if key in trade.refunds:
                # Alipay answers a repeated out_request_no with the first result, moving
                # nothing; fund_change=N says so.
                return {**trade.refunds[key], "fund_change": "N"}
            amount = to_minor(str(biz["refund_amount"]))
            if amount <= 0 or trade.refunded + amount > trade.amount:
                return _failure("40004", "Business Failed", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL")
            trade.refunded += amount
            answer = {
                "code": alipay.SUCCESS_CODE,
                "msg": "Success",
                "trade_no": trade.transaction_id,
                "out_trade_no": out_trade_no,
                "buyer_logon_id": "159****5620",
                "fund_change": "Y",
                "refund_fee": to_decimal_text(trade.refunded),
                "gmt_refund_pay": _now(),
            }
            trade.refunds[key] = answer
            self.deliver_later(
                self._notification(
                    trade,
                    "TRADE_CLOSED" if trade.refunded == trade.amount else "TRADE_SUCCESS",
                    {
                        "refund_fee": to_decimal_text(trade.refunded),
                        "gmt_refund": _now() + ".000",
                        "out_biz_no": key,
                    },
                )
            )
        return answer

    def payment_notification(self, trade: Trade) -> Delivery:
        return self._notification(trade, "TRADE_SUCCESS", {"gmt_payment": _now()})

    def _notification(self, trade: Trade, status: str, extra: dict[str, str]) -> Delivery:
        amount = to_decimal_text(trade.amount)
        params = {
            "notify_time": _now(),
            "notify_type": "trade_status_sync",
            "notify_id": uuid.uuid4().hex + "sandbox",
            "app_id": self.app_id,
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
            "trade_no": trade.transaction_id,
            "out_trade_no": trade.out_trade_no,
            "buyer_id": "2088102177846880",
            "seller_id": "2088101117955611",
            "trade_status": status,
            "total_amount": amount,
            "receipt_amount": amount,
            "buyer_pay_amount": amount,
            "subject": trade.subject,
            "gmt_create": _now(),
            **extra,
        }
        content = alipay.signing_content(params, notification=True)
        params["sign"] = keys.sign(self.keys.alipay_platform, content)
        return Delivery(
            notify_id=params["notify_id"],
            url=trade.notify_url,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            body=urlencode(params).encode(),
        )


def _failure(code: str, msg: str, sub_code: str) -> dict[str, Any]:
    return {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_code}


class WechatPaySandbox(Sandbox):
    """API v3: native payments, close order and domestic refunds.

    A refund is answered ``PROCESSING``, as WeChat Pay does, and settled by a
    ``REFUND.SUCCESS`` notification; :attr:`refund_outcome` set to ``ABNORMAL`` makes
    the next refunds' notifications ``REFUND.ABNORMAL`` instead (the customer's account
    could not take the money)."""

    name = "wechatpay"

    def __init__(
        self,
        keyring: KeyRing,
        mchid: str,
        port: int = 0,
        retry_delays: Sequence[float] = RETRY_DELAYS_S,
    ) -> None:
        super().__init__(keyring, port, retry_delays)
        self.mchid = mchid
        self.refund_outcome = "SUCCESS"

    def _signed(self, status: int, payload: Mapping[str, Any]) -> Answer:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return status, {"Content-Type": "application/json", **self._signature(body)}, body

    def _signature(self, body: bytes) -> dict[str, str]:
        timestamp, nonce = str(int(datetime.now().timestamp())), uuid.uuid4().hex
        return {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": keys.sign(
                self.keys.wechatpay_platform, wechatpay.response_message(timestamp, nonce, body)
            ),
            "Wechatpay-Serial": self.keys.wechatpay_platform_serial,
            "Wechatpay-Signature-Type": wechatpay.AUTH_SCHEME,
        }

    def handle(self, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        auth = wechatpay.parse_authorization(wechatpay.header(headers, "Authorization"))
        message = wechatpay.request_message(
            "POST", path, auth.get("timestamp", ""), auth.get("nonce_str", ""), body.decode()
        )
        if (
            auth.get("mchid") != self.mchid
            or auth.get("serial_no") != self.keys.wechatpay_merchant_serial
            or not keys.verify(
                self.keys.wechatpay_merchant.public_key(), message, auth.get("signature", "")
            )
        ):
            return self._signed(401, {"code": "SIGN_ERROR", "message": "签名错误"})
        payload = json.loads(body)
        if path == wechatpay.PAY_PATH:
            return self._native(payload)
        if path == wechatpay.REFUND_PATH:
            return self._refund(payload)
        prefix, suffix = wechatpay.CLOSE_PATH.split("{out_trade_no}")
        if path.startswith(prefix) and path.endswith(suffix):
            return self._close_order(path[len(prefix) : -len(suffix)])
        return self._signed(404, {"code": "NOT_FOUND", "message": path})

    def _native(self, payload: dict[str, Any]) -> Answer:
        out_trade_no = str(payload["out_trade_no"])
        with self.lock:
            trade = self.trades.setdefault(
                out_trade_no,
                Trade(
                    out_trade_no=out_trade_no,
                    transaction_id=f"42000{self.number():023d}",
                    amount=int(payload["amount"]["total"]),
                    currency=str(payload["amount"].get("currency", "CNY")),
                    subject=str(payload.get("description", "")),
                    notify_url=str(payload["notify_url"]),
                    appid=str(payload.get("appid", "")),
                ),
            )
        return self._signed(
            200, {"code_url": f"weixin://wxpay/bizpayurl?pr={trade.transaction_id[-7:]}"}
        )

    def _close_order(self, out_trade_no: str) -> Answer:
        problem = self.close(out_trade_no)
        if problem == "TRADE_STATUS_ERROR":
            return self._signed(400, {"code": "ORDERPAID", "message": "订单已支付"})
        if problem:
            return self._signed(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
        return 204, self._signature(b""), b""

    def _refund(self, payload: dict[str, Any]) -> Answer:
        out_trade_no, key = str(payload.get("out_trade_no")), str(payload.get("out_refund_no"))
        amount = payload.get("amount") or {}
        with self.lock:
            trade = self.trades.get(out_trade_no)
            if trade is None or not trade.paid:
                return self._signed(404, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"})
            if key in trade.refunds:
                # The same out_refund_no answers the refund it already names.
                return self._signed(200, trade.refunds[key])
            refund = int(amount.get("refund", 0))
            if int(amount.get("total", -1)) != trade.amount:
                return self._signed(400, {"code": "PARAM_ERROR", "message": "订单金额不一致"})
            if refund <= 0 or trade.refunded + refund > trade.amount:
                return self._signed(403, {"code": "NOT_ENOUGH", "message": "可退金额不足"})
            answer = {
                "refund_id": f"50000{self.number():024d}",
                "out_refund_no": key,
                "transaction_id": trade.transaction_id,
                "out_trade_no": out_trade_no,
                "channel": "ORIGINAL",
                "user_received_account": "支付用户零钱",
                "create_time": datetime.now(alipay.CHINA).isoformat(timespec="seconds"),
                "status": "PROCESSING",
                "amount": {
                    "total": trade.amount,
                    "refund": refund,
                    "payer_total": trade.amount,
                    "payer_refund": refund,
                    "currency": trade.currency,
                },
            }
            trade.refunds[key] = answer
            resource = {
                "mchid": self.mchid,
                "out_trade_no": out_trade_no,
                "transaction_id": trade.transaction_id,
                "out_refund_no": key,
                "refund_id": answer["refund_id"],
                "refund_status": self.refund_outcome,
                "success_time": datetime.now(alipay.CHINA).isoformat(timespec="seconds"),
                "user_received_account": "支付用户零钱",
                "amount": {
                    "total": trade.amount,
                    "refund": refund,
                    "payer_total": trade.amount,
                    "payer_refund": refund,
                },
            }
            notify_url = str(payload.get("notify_url") or trade.notify_url)
            event_type, summary = (
                ("REFUND.SUCCESS", "退款成功")
                if self.refund_outcome == "SUCCESS"
                else ("REFUND.ABNORMAL", "退款异常")
            )
            if self.refund_outcome == "SUCCESS":
                trade.refunded += refund
            self.deliver_later(
                self._notification(notify_url, event_type, "refund", resource, summary)
            )
        return self._signed(200, answer)

    def payment_notification(self, trade: Trade) -> Delivery:
        resource = {
            "mchid": self.mchid,
            "appid": trade.appid,
            "out_trade_no": trade.out_trade_no,
            "transaction_id": trade.transaction_id,
            "trade_type": "NATIVE",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "OTHERS",
            "attach": "",
            "success_time": datetime.now(alipay.CHINA).isoformat(timespec="seconds"),
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {
                "total": trade.amount,
                "payer_total": trade.amount,
                "currency": trade.currency,
                "payer_currency": trade.currency,
            },
        }
        return self._notification(
            trade.notify_url, "TRANSACTION.SUCCESS", "transaction", resource, "支付成功"
        )

    def _notification(
        self, url: str, event_type: str, original_type: str, resource: dict[str, Any], summary: str
    ) -> Delivery:
        plaintext = json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode()
        notify_id = str(uuid.uuid4())
        envelope = {
            "id": notify_id,
            "create_time": datetime.now(alipay.CHINA).isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": wechatpay.encrypt_resource(
                self.keys.wechatpay_apiv3, plaintext, original_type, original_type
            ),
        }
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
        return Delivery(
            notify_id=notify_id,
            url=url,
            headers={"Content-Type": "application/json", **self._signature(body)},
            body=body,
        )

    def resign(self, delivery: Delivery) -> None:
        delivery.headers = {"Content-Type": "application/json", **self._signature(delivery.body)}

    def acknowledges(self, status: int, body: bytes) -> bool:
        """WeChat Pay: any 2xx (200 or 204)."""
        return 200 <= status < 300


def main() -> None:
    """Run both sandboxes on the configured ports until SIGTERM or SIGINT."""
    from oms_events.payments.providers import keys_dir
    from oms_events.settings import get_settings

    settings = get_settings()
    ring = KeyRing.load_or_create(keys_dir(settings))
    p = settings.payments
    sandboxes = [
        AlipaySandbox(ring, p.alipay_app_id, p.alipay_port).start(),
        WechatPaySandbox(ring, p.wechatpay_mchid, p.wechatpay_port).start(),
    ]
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    for sandbox in sandboxes:
        print(f"{sandbox.name} sandbox on {sandbox.url}", flush=True)
    stopped.wait()
    for sandbox in sandboxes:
        sandbox.stop()


if __name__ == "__main__":
    main()
