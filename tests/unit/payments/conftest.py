"""Keys generated once per run, signed fixtures, and a loopback notify receiver."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from oms_events.payments import alipay, keys, wechatpay
from oms_events.payments.alipay import AlipayGateway
from oms_events.payments.keys import KeyRing
from oms_events.payments.wechatpay import WechatPayGateway

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "payments"
APP_ID = "2021000000000001"
MCHID = "1900000001"
NOWHERE = "http://127.0.0.1:9"  # the discard port: for gateways that never call out


def fixture(name: str) -> dict[str, Any]:
    """A notification fixture (see tests/fixtures/payments/README.md)."""
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return loaded


@pytest.fixture(scope="session")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> KeyRing:
    return KeyRing.load_or_create(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> KeyRing:
    """Keys of someone who is not the provider."""
    return KeyRing.load_or_create(tmp_path_factory.mktemp("stranger-keys"))


def alipay_gateway(
    ring: KeyRing, url: str = NOWHERE, notify_url: str = f"{NOWHERE}/notify"
) -> AlipayGateway:
    """The merchant's Alipay gateway with ``ring``'s keys, talking to ``url``."""
    return AlipayGateway(
        app_id=APP_ID,
        app_key=ring.alipay_app,
        alipay_public_key=ring.alipay_platform.public_key(),
        gateway_url=f"{url}/gateway.do",
        notify_url=notify_url,
    )


def wechatpay_gateway(
    ring: KeyRing, url: str = NOWHERE, notify_url: str = f"{NOWHERE}/notify"
) -> WechatPayGateway:
    """The merchant's WeChat Pay gateway with ``ring``'s keys, talking to ``url``."""
    return WechatPayGateway(
        mchid=MCHID,
        appid="wx0000000000000001",
        merchant_key=ring.wechatpay_merchant,
        merchant_serial=ring.wechatpay_merchant_serial,
        platform_keys={ring.wechatpay_platform_serial: ring.wechatpay_platform.public_key()},
        apiv3_key=ring.wechatpay_apiv3,
        api_url=url,
        notify_url=notify_url,
    )


def alipay_body(params: dict[str, str], signer: Any) -> bytes:
    """A form-encoded Alipay notification signed by ``signer``'s private key."""
    signed = dict(params)
    signed["sign"] = keys.sign(signer, alipay.signing_content(params, notification=True))
    return urlencode(signed).encode()


def wechatpay_post(
    data: dict[str, Any],
    ring: KeyRing,
    *,
    apiv3: bytes | None = None,
    signer: Any = None,
    timestamp: int | None = None,
) -> tuple[dict[str, str], bytes]:
    """Headers and body of a WeChat Pay notification built from a fixture."""
    resource = wechatpay.encrypt_resource(
        apiv3 or ring.wechatpay_apiv3,
        json.dumps(data["resource"], ensure_ascii=False).encode(),
        data["associated_data"],
        data["associated_data"],
    )
    body = json.dumps({**data["envelope"], "resource": resource}, ensure_ascii=False).encode()
    return sign_wechatpay(body, ring, signer=signer, timestamp=timestamp), body


def sign_wechatpay(
    body: bytes, ring: KeyRing, *, signer: Any = None, timestamp: int | None = None
) -> dict[str, str]:
    """The Wechatpay-* headers of ``body``."""
    ts, nonce = str(timestamp if timestamp is not None else int(time.time())), "mDML06DFZQOU5GPc"
    return {
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Serial": ring.wechatpay_platform_serial,
        "Wechatpay-Signature": keys.sign(
            signer or ring.wechatpay_platform, wechatpay.response_message(ts, nonce, body)
        ),
    }


class NotifyReceiver:
    """The merchant's notify URL on loopback: keeps every post in arrival order."""

    def __init__(self) -> None:
        self.posts: queue.Queue[tuple[str, dict[str, str], bytes]] = queue.Queue()
        self.refuse = 0  # answer this many posts with 500, as a merchant that is down
        received, receiver = self.posts, self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.put((self.path, dict(self.headers.items()), body))
                if receiver.refuse:
                    receiver.refuse -= 1
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", "7")
                self.end_headers()
                self.wfile.write(b"success")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, provider: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/payments/{provider}/notify"

    def next(self, timeout: float = 10.0) -> tuple[dict[str, str], bytes]:
        _, headers, body = self.posts.get(timeout=timeout)
        return headers, body


@pytest.fixture
def receiver() -> Iterator[NotifyReceiver]:
    r = NotifyReceiver()
    yield r
    r.server.shutdown()
    r.server.server_close()
