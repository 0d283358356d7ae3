"""The marketplaces' order APIs as the puller calls them: one class per platform.

Each platform says how to ask for one page of the orders modified in a window, how to
read its answer (the total, the orders on the page, the ids whose detail must be asked
for separately), and which error code means "slow down". The requests are signed as
the platform signs them (:mod:`.signing`); the answers are published as received, so
the channel parsers (``intake/tmall.py``, ``jd.py``, ``pdd.py``, ``douyin.py``) read
the platform's own shapes.

Sources of every name here: ``tests/fixtures/channels/<platform>/README.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import urlencode

from oms_events.intake.channel import CHINA
from oms_events.intake.pull import signing


@dataclass(frozen=True)
class Credentials:
    """An app registered with the platform and a shop's authorisation of it."""

    app_key: str
    app_secret: str
    session: str  # Taobao ``session``, JD / Pinduoduo / Douyin ``access_token``


@dataclass(frozen=True)
class Request:
    """One HTTP request: POST ``path`` with ``form`` (or ``query`` and a JSON ``body``)."""

    path: str
    form: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None

    def url_tail(self) -> str:
        """The path with the query string, for the HTTP client."""
        return self.path + ("?" + urlencode(self.query) if self.query else "")


@dataclass(frozen=True)
class Page:
    """What one list answer holds: the window's total, how many orders this page
    carries, and the ids to fetch one by one (Taobao's list carries only ``tid``)."""

    total: int
    count: int
    detail_ids: tuple[str, ...] = ()


class ApiError(Exception):
    """The platform answered with an error; ``throttled``: it asks us to slow down."""

    def __init__(self, platform: str, code: str, message: str, throttled: bool) -> None:
        super().__init__(f"{platform} API error {code}: {message}")
        self.code = code
        self.message = message
        self.throttled = throttled


def _json(platform: str, body: bytes) -> Any:
    try:
        return json.loads(body, parse_float=Decimal)
    except ValueError as exc:
        raise ApiError(platform, "not-json", f"answer is not JSON: {exc}", False) from None


def _beijing(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def _int(value: Any) -> int:
    return int(value) if value not in (None, "") else 0


class Platform:
    """Shared by the four: the channel, the window limit and the first page number."""

    channel: ClassVar[str]
    list_method: ClassVar[str]
    path: ClassVar[str]
    max_window: ClassVar[timedelta]
    first_page: ClassVar[int] = 1
    throttle_codes: ClassVar[frozenset[str]]
    # The platform's name in errors, and where its ``error_response`` envelope puts the
    # code and the message (Taobao, JD and Pinduoduo share the envelope, not the keys).
    platform: ClassVar[str]
    error_code: ClassVar[str] = "code"
    error_said: ClassVar[tuple[str, ...]] = ("sub_msg", "msg")

    def list_request(
        self,
        creds: Credentials,
        start: datetime,
        end: datetime,
        page: int,
        size: int,
        now: datetime,
    ) -> Request:
        """The signed request for page ``page`` of the orders modified in [start, end)."""
        raise NotImplementedError

    def read_page(self, body: bytes) -> Page:
        """The page an answer holds; :class:`ApiError` when it is an error."""
        raise NotImplementedError

    def detail_request(self, creds: Credentials, order_id: str, now: datetime) -> Request:
        """The signed request for one order's detail (platforms whose list is partial)."""
        raise NotImplementedError(f"{self.channel} lists whole orders")

    def check_detail(self, body: bytes) -> None:
        """Raise :class:`ApiError` when a detail answer is an error."""
        self.read_doc(body)

    def read_doc(self, body: bytes) -> Any:
        """The answer as JSON; :class:`ApiError` when it is the platform's error."""
        doc = _json(self.platform, body)
        if isinstance(doc, dict) and "error_response" in doc:
            error = doc["error_response"]
            code = str(error.get(self.error_code))
            said = str(next((error[k] for k in self.error_said if error.get(k)), ""))
            raise ApiError(self.platform, code, said, code in self.throttle_codes)
        return doc

    def decrypt_request(
        self, creds: Credentials, order_id: str, ciphers: list[str], now: datetime
    ) -> Request | None:
        """The signed request that decrypts an order's receiver ciphertexts; None where
        this platform's decrypt API is not built yet (the decrypt desk holds the order)."""
        return None

    def read_decrypt(self, body: bytes) -> dict[str, str | None]:
        """Ciphertext -> plain text (None: the platform refused that one)."""
        raise NotImplementedError


class Taobao(Platform):
    """Taobao / Tmall TOP: ``taobao.trades.sold.increment.get`` lists the tids modified in
    the window (at most one day), ``taobao.trade.fullinfo.get`` gives each trade."""

    channel = "tmall"
    platform = "taobao"
    list_method = "taobao.trades.sold.increment.get"
    detail_method = "taobao.trade.fullinfo.get"
    path = "/router/rest"
    max_window = timedelta(days=1)
    throttle_codes = frozenset({"7"})  # App Call Limited
    # Every field the tmall parser reads (intake/tmall.py).
    fields = (
        "tid,type,status,payment,post_fee,discount_fee,adjust_fee,cod_fee,buyer_cod_fee,"
        "created,pay_time,modified,end_time,buyer_nick,oaid,receiver_name,receiver_mobile,"
        "receiver_phone,receiver_state,receiver_city,receiver_district,receiver_town,"
        "receiver_address,receiver_zip,receiver_country,orders"
    )

    def __init__(self, sign_method: str = "md5") -> None:
        self.sign_method = sign_method

    def _signed(self, creds: Credentials, method: str, now: datetime, **biz: str) -> Request:
        form = {
            "method": method,
            "app_key": creds.app_key,
            "session": creds.session,
            "timestamp": _beijing(now),
            "format": "json",
            "v": "2.0",
            "sign_method": self.sign_method,
            **biz,
        }
        form["sign"] = signing.top_sign(form, creds.app_secret, self.sign_method)
        return Request(self.path, form=form)

    def list_request(
        self,
        creds: Credentials,
        start: datetime,
        end: datetime,
        page: int,
        size: int,
        now: datetime,
    ) -> Request:
        return self._signed(
            creds,
            self.list_method,
            now,
            fields="tid,modified",
            start_modified=_beijing(start),
            end_modified=_beijing(end),
            page_no=str(page),
            page_size=str(size),
        )

    def detail_request(self, creds: Credentials, order_id: str, now: datetime) -> Request:
        return self._signed(creds, self.detail_method, now, fields=self.fields, tid=order_id)

    def read_page(self, body: bytes) -> Page:
        answer = self.read_doc(body)["trades_sold_increment_get_response"]
        trades = (answer.get("trades") or {}).get("trade") or []
        ids = tuple(str(t.get("tid_str") or t["tid"]) for t in trades)
        return Page(_int(answer.get("total_results")), len(ids), ids)


class Jd(Platform):
    """JD JOS: ``jingdong.pop.order.search`` by modified time (``dateType`` 1)."""

    channel = "jd"
    platform = "jd"
    error_said = ("zh_desc", "en_desc")
    list_method = "jingdong.pop.order.search"
    path = "/routerjson"
    max_window = timedelta(days=1)
    throttle_codes = frozenset({"66"})  # sandbox's choice, see the fixture README
    states = "WAIT_SELLER_STOCK_OUT,TRADE_CANCELED,LOCKED"

    def list_request(
        self,
        creds: Credentials,
        start: datetime,
        end: datetime,
        page: int,
        size: int,
        now: datetime,
    ) -> Request:
        biz = {
            "start_date": _beijing(start),
            "end_date": _beijing(end),
            "order_state": self.states,
            "page": str(page),
            "page_size": str(size),
            "dateType": "1",
        }
        form = {
            "method": self.list_method,
            "access_token": creds.session,
            "app_key": creds.app_key,
            "timestamp": _beijing(now),
            "v": "2.0",
            "360buy_param_json": signing.param_json(biz),
        }
        form["sign"] = signing.top_sign(form, creds.app_secret)
        return Request(self.path, form=form)

    def read_page(self, body: bytes) -> Page:
        result = self.read_doc(body)["jingdong_pop_order_search_responce"]
        result = result["searchorderinfo_result"]
        return Page(_int(result.get("orderTotal")), len(result.get("orderInfoList") or []))


class Pdd(Platform):
    """Pinduoduo: ``pdd.order.number.list.increment.get`` (windows of at most 30 min)."""

    channel = "pdd"
    platform = "pdd"
    error_code = "error_code"
    error_said = ("error_msg", "sub_msg")
    list_method = "pdd.order.number.list.increment.get"
    path = "/api/router"
    max_window = timedelta(minutes=30)
    throttle_codes = frozenset({"70031"})  # 调用过于频繁

    def list_request(
        self,
        creds: Credentials,
        start: datetime,
        end: datetime,
        page: int,
        size: int,
        now: datetime,
    ) -> Request:
        form = {
            "type": self.list_method,
            "client_id": creds.app_key,
            "access_token": creds.session,
            "timestamp": str(int(now.timestamp())),
            "data_type": "JSON",
            "is_lucky_flag": "0",
            "order_status": "5",
            "refund_status": "5",
            "start_updated_at": str(int(start.timestamp())),
            "end_updated_at": str(int(end.timestamp())),
            "page": str(page),
            "page_size": str(size),
        }
        form["sign"] = signing.top_sign(form, creds.app_secret)
        return Request(self.path, form=form)

    def decrypt_request(
        self, creds: Credentials, order_id: str, ciphers: list[str], now: datetime
    ) -> Request:
        """``pdd.open.decrypt.batch``: one ``data_list`` entry per ciphertext."""
        form = {
            "type": "pdd.open.decrypt.batch",
            "client_id": creds.app_key,
            "access_token": creds.session,
            "timestamp": str(int(now.timestamp())),
            "data_type": "JSON",
            "data_list": signing.param_json(
                [{"data_tag": order_id, "encrypted_data": c} for c in ciphers]
            ),
        }
        form["sign"] = signing.top_sign(form, creds.app_secret)
        return Request(self.path, form=form)

    def read_decrypt(self, body: bytes) -> dict[str, str | None]:
        items = self.read_doc(body)["open_decrypt_batch_response"]["data_decrypt_list"]
        return {
            str(i["encrypted_data"]): None if _int(i.get("error_code")) else i["decrypted_data"]
            for i in items
        }

    def read_page(self, body: bytes) -> Page:
        answer = self.read_doc(body)["order_sn_increment_get_response"]
        return Page(_int(answer.get("total_count")), len(answer.get("order_sn_list") or []))


class Douyin(Platform):
    """Douyin (抖店): ``order.searchList`` by update time; pages count from 0."""

    channel = "douyin"
    platform = "douyin"
    list_method = "order.searchList"
    path = "/order/searchList"
    max_window = timedelta(days=1)
    first_page = 0
    throttle_codes = frozenset({"90000"})  # sandbox's choice, see the fixture README

    def list_request(
        self,
        creds: Credentials,
        start: datetime,
        end: datetime,
        page: int,
        size: int,
        now: datetime,
    ) -> Request:
        params = signing.param_json(
            {
                "update_time_start": int(start.timestamp()),
                "update_time_end": int(end.timestamp()),
                "page": page,
                "size": size,
                "order_by": "update_time",
                "order_asc": False,
            }
        )
        return self._signed(creds, self.list_method, self.path, params, now)

    @staticmethod
    def _signed(creds: Credentials, method: str, path: str, params: str, now: datetime) -> Request:
        timestamp, v = _beijing(now), "2"
        query = {
            "app_key": creds.app_key,
            "method": method,
            "access_token": creds.session,
            "timestamp": timestamp,
            "v": v,
            "sign_method": "hmac-sha256",
            "sign": signing.douyin_sign(
                creds.app_key, method, params, timestamp, v, creds.app_secret
            ),
        }
        return Request(path, query=query, body=params.encode())

    def decrypt_request(
        self, creds: Credentials, order_id: str, ciphers: list[str], now: datetime
    ) -> Request:
        """``order.batchDecrypt``: one ``cipher_infos`` entry per ciphertext."""
        params = signing.param_json(
            {"cipher_infos": [{"auth_id": order_id, "cipher_text": c} for c in ciphers]}
        )
        return self._signed(creds, "order.batchDecrypt", "/order/batchDecrypt", params, now)

    def read_decrypt(self, body: bytes) -> dict[str, str | None]:
        infos = self.read_doc(body)["data"]["decrypt_infos"]
        return {
            str(i["cipher_text"]): None if _int(i.get("err_no")) else i["decrypt_text"]
            for i in infos
        }

    def read_doc(self, body: bytes) -> Any:
        doc = _json(self.platform, body)
        code = str(doc.get("code")) if isinstance(doc, dict) else "not-an-object"
        if code != "10000":
            said = str(doc.get("sub_msg") or doc.get("msg") or "") if isinstance(doc, dict) else ""
            raise ApiError(self.platform, code, said, code in self.throttle_codes)
        return doc

    def read_page(self, body: bytes) -> Page:
        data = self.read_doc(body)["data"]
        return Page(_int(data.get("total")), len(data.get("shop_order_list") or []))


PLATFORMS: dict[str, Platform] = {p.channel: p for p in (Taobao(), Jd(), Pdd(), Douyin())}
