"""`oms dev up` runs both sandboxes as one background process on the configured ports."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from oms_events.devservices.payment_sandboxes import PaymentSandboxes
from oms_events.devservices.process import ServiceError
from oms_events.payments.providers import gateways
from oms_events.settings import Settings
from tests.ports import free_port


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings().replace(
        dev={"data_dir": tmp_path},
        # URLs empty: the sandboxes on these ports, whatever OMS_PAYMENTS_*_URL says.
        payments={
            "alipay_port": free_port(),
            "wechatpay_port": free_port(),
            "alipay_url": "",
            "wechatpay_url": "",
        },
    )


@pytest.fixture
def sandboxes(settings: Settings) -> Iterator[PaymentSandboxes]:
    process = PaymentSandboxes(settings)
    yield process
    process.stop()


def test_started_once_serves_both_and_stops(
    settings: Settings, sandboxes: PaymentSandboxes
) -> None:
    assert sandboxes.start() is True
    assert sandboxes.start() is False  # safe to repeat
    st = sandboxes.status()
    assert st.running and st.pid
    # The keys the process generated are the ones the gateways read: a request verifies.
    wechatpay = gateways(settings)["wechatpay"]
    assert wechatpay.request_payment("P-1", 100, "CNY", "x").pay_url.startswith("weixin://")
    answer = httpx.post(
        f"{st.alipay_url.removesuffix('/gateway.do')}/sandbox/pay", json={"out_trade_no": "none"}
    )
    assert answer.status_code == 409
    assert sandboxes.stop() is True
    assert not sandboxes.status().running
    assert sandboxes.stop() is False


def test_a_taken_port_names_the_variable_to_change(settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", settings.payments.wechatpay_port))
        taken.listen()
        with pytest.raises(ServiceError, match="OMS_PAYMENTS_WECHATPAY_PORT"):
            PaymentSandboxes(settings).start()
