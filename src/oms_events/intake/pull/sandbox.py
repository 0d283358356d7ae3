"""A local stand-in for the four marketplaces' order APIs (Taobao TOP, JD JOS,
Pinduoduo, Douyin) on one loopback port.

It keeps orders in memory with their modification time, answers the order-list calls
the puller makes (and Taobao's ``taobao.trade.fullinfo.get``) in each platform's
shape, and checks every request's ``app_key`` and ``sign`` the way the platform signs
it; a bad signature gets the platform's own error answer. ``throttle_every=n``
answers every n-th list call with the platform's throttling error, as a busy
platform would. ``before_page`` (tests) is called before a list page is answered.

``oms channel sandbox`` runs it; ``python -m oms_events.intake.pull.sandbox`` too.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from oms_events.intake.channel import CHINA
from oms_events.intake.pull import signing
from oms_events.intake.pull.platforms import Credentials


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, default=str).encode()


def _time(value: str) -> datetime:
    """A Beijing ``YYYY-MM-DD HH:MM:SS`` or Unix seconds."""
    if value.isdigit():
        return datetime.fromtimestamp(int(value), CHINA)
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)


def templates() -> dict[str, dict[str, Any]]:
    """One made-up order per platform (``sandbox_orders.json``), to clone."""
    text = files("oms_events.intake.pull").joinpath("sandbox_orders.json").read_text()
    return {k: v for k, v in json.loads(text, parse_float=Decimal).items() if k != "_doc"}


def clone(channel: str, template: Mapping[str, Any], order_id: str) -> dict[str, Any]:
    """``template`` under a new order id (line ids made unique too)."""
    doc = copy.deepcopy(dict(template))
    if channel == "tmall":
        doc["tid"] = doc["tid_str"] = order_id
        for i, sub in enumerate(doc["orders"]["order"]):
            sub["oid"] = f"{order_id}{i:02d}"
    elif channel == "jd":
        doc["orderId"] = order_id
    elif channel == "pdd":
        doc["order_sn"] = order_id
    else:
        doc["order_id"] = order_id
        for i, sku in enumerate(doc["sku_order_list"]):
            sku["order_id"] = f"{order_id}{i:02d}"
    return doc


@dataclass
class Stored:
    """An order as the platform keeps it."""

    order_id: str
    modified: datetime
    doc: dict[str, Any]


Answer = tuple[int, bytes]


class PlatformSandbox:
    """The four platforms' order APIs; ``orders[channel]`` holds what each sells."""

    def __init__(self, creds: Credentials, throttle_every: int = 0) -> None:
        self.creds = creds
        self.throttle_every = throttle_every
        self.orders: dict[str, list[Stored]] = {c: [] for c in ("tmall", "jd", "pdd", "douyin")}
        self.before_page: Callable[[str, int], None] | None = None
        self.calls: list[tuple[str, int]] = []  # (channel, page) of every list call answered
        self.plain: dict[str, str] = {}  # ciphertext -> what it hides (the decrypt APIs)
        self._count = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def add(self, channel: str, order_id: str, modified: datetime, doc: dict[str, Any]) -> None:
        """Sell (or modify) an order: it is listed in windows holding ``modified``."""
        with self._lock:
            kept = [o for o in self.orders[channel] if o.order_id != order_id]
            self.orders[channel] = [*kept, Stored(order_id, modified, doc)]

    # -- the server -------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a daemon thread; returns the base URL."""
        sandbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                split = urlsplit(self.path)
                status, answer = sandbox.answer(split.path, dict(parse_qsl(split.query)), body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: the puller logs what matters

        self._server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://{host}:{self._server.server_address[1]}"

    def close(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def answer(self, path: str, query: dict[str, str], body: bytes) -> Answer:
        """The platform's answer to one request."""
        if path == "/router/rest":
            return self._taobao(dict(parse_qsl(body.decode())))
        if path == "/routerjson":
            return self._jd(dict(parse_qsl(body.decode())))
        if path == "/api/router":
            return self._pdd(dict(parse_qsl(body.decode())))
        if path in ("/order/searchList", "/order/batchDecrypt"):
            return self._douyin(query, body.decode())
        return HTTPStatus.NOT_FOUND, b'{"error": "no such API in the sandbox"}'

    def _window(self, channel: str, start: datetime, end: datetime) -> list[Stored]:
        # Newest change first, as the platforms list them.
        with self._lock:
            found = [o for o in self.orders[channel] if start <= o.modified < end]
        return sorted(found, key=lambda o: (o.modified, o.order_id), reverse=True)

    def _throttled(self) -> bool:
        return bool(self.throttle_every) and next(self._count) % self.throttle_every == 0

    def _page(
        self, channel: str, start: datetime, end: datetime, page: int, size: int, first: int
    ) -> tuple[list[Stored], int]:
        if self.before_page is not None:
            self.before_page(channel, page)
        found = self._window(channel, start, end)
        self.calls.append((channel, page))
        at = (page - first) * size
        return found[at : at + size], len(found)

    # -- Taobao TOP -------------------------------------------------------------------

    def _taobao(self, form: dict[str, str]) -> Answer:
        def error(code: int, msg: str, sub_code: str = "", sub_msg: str = "") -> Answer:
            doc: dict[str, Any] = {"code": code, "msg": msg, "request_id": "sandbox"}
            if sub_code:
                doc |= {"sub_code": sub_code, "sub_msg": sub_msg}
            return HTTPStatus.OK, _dumps({"error_response": doc})

        if form.get("app_key") != self.creds.app_key:
            return error(29, "Invalid app Key")
        method = form.get("sign_method", "md5")
        if method not in ("md5", "hmac") or form.get("sign") != signing.top_sign(
            form, self.creds.app_secret, method
        ):
            return error(25, "Invalid signature")
        if form.get("session") != self.creds.session:
            return error(27, "Invalid session")
        if form.get("method") == "taobao.trade.fullinfo.get":
            with self._lock:
                found = [o for o in self.orders["tmall"] if o.order_id == form.get("tid")]
            if not found:
                return error(15, "Remote service error", "isv.trade-not-exist", "交易不存在")
            return HTTPStatus.OK, _dumps({"trade_fullinfo_get_response": {"trade": found[0].doc}})
        if form.get("method") != "taobao.trades.sold.increment.get":
            return error(22, "Invalid method")
        if self._throttled():
            return error(
                7,
                "App Call Limited",
                "accesscontrol.limited-by-app-access-count",
                "This ban will last for 1 more seconds",
            )
        orders, total = self._page(
            "tmall",
            _time(form["start_modified"]),
            _time(form["end_modified"]),
            int(form.get("page_no", "1")),
            int(form.get("page_size", "40")),
            1,
        )
        answer: dict[str, Any] = {"total_results": total, "request_id": "sandbox"}
        if orders:
            answer["trades"] = {
                "trade": [
                    {"tid": int(o.order_id), "tid_str": o.order_id, "modified": str(o.modified)}
                    for o in orders
                ]
            }
        return HTTPStatus.OK, _dumps({"trades_sold_increment_get_response": answer})

    # -- JD JOS -----------------------------------------------------------------------

    def _jd(self, form: dict[str, str]) -> Answer:
        def error(code: str, zh: str, en: str) -> Answer:
            return HTTPStatus.OK, _dumps(
                {"error_response": {"code": code, "zh_desc": zh, "en_desc": en}}
            )

        if form.get("app_key") != self.creds.app_key:
            return error("18", "无效的app_key", "Invalid app_key")
        if form.get("sign") != signing.top_sign(form, self.creds.app_secret):
            return error("19", "无效签名", "Invalid signature")
        if form.get("access_token") != self.creds.session:
            return error("14", "无效的access_token", "Invalid access_token")
        if self._throttled():
            return error("66", "调用频率超限", "Call frequency exceeded")
        biz = json.loads(form["360buy_param_json"])
        orders, total = self._page(
            "jd",
            _time(biz["start_date"]),
            _time(biz["end_date"]),
            int(biz.get("page", "1")),
            int(biz.get("page_size", "20")),
            1,
        )
        result = {
            "apiResult": {"success": True, "resultCode": "0", "englishErrCode": "success"},
            "orderTotal": total,
            "orderInfoList": [o.doc for o in orders],
        }
        return HTTPStatus.OK, _dumps(
            {"jingdong_pop_order_search_responce": {"code": "0", "searchorderinfo_result": result}}
        )

    # -- Pinduoduo --------------------------------------------------------------------

    def _pdd(self, form: dict[str, str]) -> Answer:
        def error(code: int, msg: str, sub_code: str = "") -> Answer:
            doc = {"error_code": code, "error_msg": msg, "sub_code": sub_code, "sub_msg": ""}
            return HTTPStatus.OK, _dumps({"error_response": doc | {"request_id": "sandbox"}})

        if form.get("client_id") != self.creds.app_key:
            return error(10016, "client_id不存在")
        if form.get("sign") != signing.top_sign(form, self.creds.app_secret):
            return error(20004, "签名错误", "sign check failure")
        if form.get("access_token") != self.creds.session:
            return error(10019, "access_token已过期")
        if form.get("type") == "pdd.open.decrypt.batch":
            items = [
                {
                    "data_tag": i["data_tag"],
                    "encrypted_data": i["encrypted_data"],
                    "decrypted_data": self.plain.get(i["encrypted_data"], ""),
                    "error_code": 0 if i["encrypted_data"] in self.plain else 50002,
                    "error_msg": "" if i["encrypted_data"] in self.plain else "解密失败",
                }
                for i in json.loads(form.get("data_list", "[]"))
            ]
            answer: dict[str, Any] = {"data_decrypt_list": items}
            return HTTPStatus.OK, _dumps({"open_decrypt_batch_response": answer})
        if self._throttled():
            return error(70031, "调用过于频繁，请调整调用频率")
        page, size = int(form.get("page", "1")), int(form.get("page_size", "100"))
        orders, total = self._page(
            "pdd",
            _time(form["start_updated_at"]),
            _time(form["end_updated_at"]),
            page,
            size,
            1,
        )
        answer = {
            "total_count": total,
            "has_next": page * size < total,
            "order_sn_list": [o.doc for o in orders],
        }
        return HTTPStatus.OK, _dumps({"order_sn_increment_get_response": answer})

    # -- Douyin -----------------------------------------------------------------------

    def _douyin(self, query: dict[str, str], params: str) -> Answer:
        def error(code: int, msg: str, sub_code: str, sub_msg: str) -> Answer:
            doc = {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}
            return HTTPStatus.OK, _dumps(doc | {"data": {}, "log_id": "sandbox"})

        if query.get("app_key") != self.creds.app_key:
            return error(30001, "app_key无效", "isv.app-key-invalid", "app_key不存在")
        expected = signing.douyin_sign(
            query.get("app_key", ""),
            query.get("method", ""),
            params,
            query.get("timestamp", ""),
            query.get("v", ""),
            self.creds.app_secret,
        )
        if query.get("sign_method") != "hmac-sha256" or query.get("sign") != expected:
            return error(40004, "签名错误", "isv.signature-invalid", "签名校验失败")
        if query.get("access_token") != self.creds.session:
            return error(30001, "access_token无效", "isv.access-token-invalid", "授权已失效")
        if query.get("method") == "order.batchDecrypt":
            infos = [
                {
                    "auth_id": i["auth_id"],
                    "cipher_text": i["cipher_text"],
                    "decrypt_text": self.plain.get(i["cipher_text"], ""),
                    "err_no": 0 if i["cipher_text"] in self.plain else 300008,
                    "err_msg": "" if i["cipher_text"] in self.plain else "解密失败",
                }
                for i in json.loads(params)["cipher_infos"]
            ]
            data: dict[str, Any] = {
                "decrypt_infos": infos,
                "custom_err": {"err_code": 0, "err_msg": ""},
            }
            return HTTPStatus.OK, _dumps({"code": 10000, "msg": "success", "data": data})
        if self._throttled():
            return error(90000, "流量超限", "isv.flow-limit", "请求过于频繁，请稍后再试")
        biz = json.loads(params)
        page, size = int(biz.get("page", 0)), int(biz.get("size", 20))
        orders, total = self._page(
            "douyin",
            _time(str(biz["update_time_start"])),
            _time(str(biz["update_time_end"])),
            page,
            size,
            0,
        )
        data = {
            "shop_order_list": [o.doc for o in orders],
            "page": page,
            "size": size,
            "total": total,
        }
        return HTTPStatus.OK, _dumps({"code": 10000, "msg": "success", "data": data})


def seed(box: PlatformSandbox, count: int, now: datetime) -> None:
    """``count`` orders per platform, cloned from the templates, modified over the hour
    before ``now`` (ids distinct per platform)."""
    shapes = templates()
    for channel, template in shapes.items():
        for i in range(count):
            order_id = _order_id(channel, i)
            modified = now.replace(microsecond=0) - _spread(i, count)
            box.add(channel, order_id, modified, clone(channel, template, order_id))


def _order_id(channel: str, i: int) -> str:
    return {
        "tmall": f"4{i:018d}",
        "jd": f"29{i:010d}",
        "pdd": f"261201-{i:015d}",
        "douyin": f"69{i:017d}",
    }[channel]


def _spread(i: int, count: int) -> timedelta:
    return timedelta(seconds=3600 * (count - i) / max(count, 1))
