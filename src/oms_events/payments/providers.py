"""The configured gateways: keys from the key folder, URLs and ids from ``settings.payments``."""

from __future__ import annotations

from pathlib import Path

from oms_events.payments.alipay import AlipayGateway
from oms_events.payments.gateway import PaymentGateway, Provider
from oms_events.payments.keys import KeyRing
from oms_events.payments.wechatpay import WechatPayGateway
from oms_events.settings import Settings


def keys_dir(settings: Settings) -> Path:
    """Where the gateways' keys live (``OMS_PAYMENTS_KEYS_DIR``, else under the dev data)."""
    return settings.payments.keys_dir or settings.dev.data_dir / "payments" / "keys"


def alipay_url(settings: Settings) -> str:
    """Alipay's gateway.do: the configured one, else the local sandbox's."""
    p = settings.payments
    return p.alipay_url or f"http://127.0.0.1:{p.alipay_port}/gateway.do"


def wechatpay_url(settings: Settings) -> str:
    """WeChat Pay's API base: the configured one, else the local sandbox's."""
    p = settings.payments
    return p.wechatpay_url or f"http://127.0.0.1:{p.wechatpay_port}"


def gateways(settings: Settings, keyring: KeyRing | None = None) -> dict[Provider, PaymentGateway]:
    """One gateway per provider, ready to request payments and read notifications."""
    ring = keyring or KeyRing.load_or_create(keys_dir(settings))
    p = settings.payments
    return {
        "alipay": AlipayGateway(
            app_id=p.alipay_app_id,
            app_key=ring.alipay_app,
            alipay_public_key=ring.alipay_platform.public_key(),
            gateway_url=alipay_url(settings),
            notify_url=p.alipay_notify_url,
        ),
        "wechatpay": WechatPayGateway(
            mchid=p.wechatpay_mchid,
            appid=p.wechatpay_appid,
            merchant_key=ring.wechatpay_merchant,
            merchant_serial=ring.wechatpay_merchant_serial,
            platform_keys={ring.wechatpay_platform_serial: ring.wechatpay_platform.public_key()},
            apiv3_key=ring.wechatpay_apiv3,
            api_url=wechatpay_url(settings),
            notify_url=p.wechatpay_notify_url,
        ),
    }
