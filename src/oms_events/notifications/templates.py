"""What a customer reads at each step of an order, in Chinese and English.

One template per (step, locale): a mail subject, a mail body and an SMS text (short,
with the shop's signature first as mainland SMS rules want it). Facts missing from an
event render as nothing rather than "None".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from string import Formatter
from typing import Any

from oms_events.domain.money import Money


class Step(StrEnum):
    """The steps of an order a customer is told about."""

    CONFIRMED = "confirmed"
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    DELAYED = "delayed"
    REFUND_ISSUED = "refund_issued"
    RETURN_RECEIVED = "return_received"


LOCALES = ("zh", "en")


@dataclass(frozen=True)
class Template:
    """The words of one step in one language; ``{name}`` fields come from the facts."""

    subject: str
    body: str
    sms: str


TEMPLATES: Mapping[tuple[Step, str], Template] = {
    (Step.CONFIRMED, "zh"): Template(
        "订单 {order_no} 已确认",
        "{name}，您好：\n\n您的订单 {order_no} 已确认，我们正在为您备货。\n",
        "【OMS】您的订单{order_no}已确认，正在备货。",
    ),
    (Step.CONFIRMED, "en"): Template(
        "Order {order_no} confirmed",
        "Hello {name},\n\nyour order {order_no} is confirmed; we are getting it ready.\n",
        "[OMS] Your order {order_no} is confirmed.",
    ),
    (Step.SHIPPED, "zh"): Template(
        "订单 {order_no} 已发货",
        "{name}，您好：\n\n您的订单 {order_no} 已由 {carrier} 发出，运单号 {tracking_no}。\n",
        "【OMS】您的订单{order_no}已发货，{carrier}运单号{tracking_no}。",
    ),
    (Step.SHIPPED, "en"): Template(
        "Order {order_no} shipped",
        "Hello {name},\n\nyour order {order_no} has shipped with {carrier}, "
        "tracking number {tracking_no}.\n",
        "[OMS] Order {order_no} shipped: {carrier} {tracking_no}.",
    ),
    (Step.OUT_FOR_DELIVERY, "zh"): Template(
        "订单 {order_no} 正在派送",
        "{name}，您好：\n\n您的订单 {order_no}（运单号 {tracking_no}）今天派送，请保持电话畅通。\n",
        "【OMS】您的订单{order_no}正在派送，运单号{tracking_no}。",
    ),
    (Step.OUT_FOR_DELIVERY, "en"): Template(
        "Order {order_no} is out for delivery",
        "Hello {name},\n\nyour order {order_no} (tracking number {tracking_no}) "
        "is out for delivery today.\n",
        "[OMS] Order {order_no} is out for delivery ({tracking_no}).",
    ),
    (Step.DELIVERED, "zh"): Template(
        "订单 {order_no} 已签收",
        "{name}，您好：\n\n您的订单 {order_no} 已签收，感谢您的惠顾。\n",
        "【OMS】您的订单{order_no}已签收，感谢惠顾。",
    ),
    (Step.DELIVERED, "en"): Template(
        "Order {order_no} delivered",
        "Hello {name},\n\nyour order {order_no} has been delivered. Thank you.\n",
        "[OMS] Order {order_no} delivered. Thank you.",
    ),
    (Step.DELAYED, "zh"): Template(
        "订单 {order_no} 派送延误",
        "{name}，您好：\n\n您的订单 {order_no}（运单号 {tracking_no}）派送未成功：{reason}。"
        "快递将再次派送，给您带来不便，敬请谅解。\n",
        "【OMS】您的订单{order_no}派送延误：{reason}，将再次派送。",
    ),
    (Step.DELAYED, "en"): Template(
        "Order {order_no} is delayed",
        "Hello {name},\n\nthe delivery of your order {order_no} (tracking number "
        "{tracking_no}) did not succeed: {reason}. The carrier will try again; "
        "we are sorry for the delay.\n",
        "[OMS] Order {order_no} delayed: {reason}. The carrier will try again.",
    ),
    (Step.REFUND_ISSUED, "zh"): Template(
        "订单 {order_no} 已退款 {amount}",
        "{name}，您好：\n\n订单 {order_no} 的退款 {amount} 已原路退回，到账时间以支付渠道为准。\n",
        "【OMS】订单{order_no}已退款{amount}，原路退回。",
    ),
    (Step.REFUND_ISSUED, "en"): Template(
        "Refund of {amount} for order {order_no}",
        "Hello {name},\n\nwe have refunded {amount} for order {order_no} to the way you paid.\n",
        "[OMS] Refund of {amount} for order {order_no} issued.",
    ),
    (Step.RETURN_RECEIVED, "zh"): Template(
        "退货 {return_no} 已收到",
        "{name}，您好：\n\n我们已收到订单 {order_no} 的退货 {return_no}，检验后为您办理退款。\n",
        "【OMS】退货{return_no}已收到，检验后退款。",
    ),
    (Step.RETURN_RECEIVED, "en"): Template(
        "Return {return_no} received",
        "Hello {name},\n\nwe have received return {return_no} of order {order_no}; "
        "we will refund you once it is checked.\n",
        "[OMS] Return {return_no} received; refund after inspection.",
    ),
}


@dataclass(frozen=True)
class Message:
    """A rendered notification."""

    subject: str
    body: str
    sms: str


def money_text(amount: Mapping[str, Any] | None, locale: str) -> str:
    """An event's ``{"amount": minor, "currency": code}`` as a reader writes it:
    ¥129.00 in Chinese for yuan, 129.00 CNY otherwise."""
    if not amount:
        return ""
    money = Money(int(amount["amount"]), str(amount["currency"]))
    if locale == "zh" and money.currency == "CNY":
        return f"¥{money.decimal_text()}"
    return f"{money.decimal_text()} {money.currency}"


def render(step: Step, locale: str, facts: Mapping[str, Any]) -> Message:
    """The message of ``step`` in ``locale`` (zh or en; anything else reads English)."""
    template = TEMPLATES[(step, locale if locale in LOCALES else "en")]
    values = {k: "" if v is None else v for k, v in facts.items()}
    values["amount"] = money_text(facts.get("amount"), locale)
    fill = _Blank(values)
    return Message(
        fill.format(template.subject), fill.format(template.body), fill.format(template.sms)
    )


class _Blank(Formatter):
    """A formatter whose absent fields are empty: a missing fact never prints as a crash."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values

    def format(self, template: str, /, *args: Any, **kwargs: Any) -> str:
        return self.vformat(template, (), dict(self.values))

    def get_value(self, key: int | str, args: Any, kwargs: Mapping[str, Any]) -> Any:
        return kwargs.get(str(key), "")
