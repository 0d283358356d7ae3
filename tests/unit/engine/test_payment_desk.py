"""Which trades the payment desk opens at a provider: only tenders we asked for under
a trade number of ours, of a provider's method, not captured yet."""

from __future__ import annotations

import uuid

from oms_events.domain.ids import trade_no
from oms_events.domain.money import Money
from oms_events.domain.order import PaymentMethod
from oms_events.domain.payment import Payment
from oms_events.engine.payment_desk import trades_to_open

ORDER = uuid.uuid4()


def cny(amount: int) -> Money:
    return Money(amount, "CNY")


def test_a_trade_we_asked_for_is_opened_at_its_provider_until_captured() -> None:
    ours = trade_no(ORDER, 1)
    payment = Payment.request(ORDER, PaymentMethod.WECHAT_PAY, cny(1000), ours, "SO-1", "web")
    assert trades_to_open(payment) == [(ours, "wechatpay", 1000)]
    payment.capture(ours, "wechat_pay", cny(1000), "4200000001")
    assert trades_to_open(payment) == []


def test_the_channels_trade_and_cash_on_delivery_are_not_ours_to_open() -> None:
    payment = Payment.request(ORDER, PaymentMethod.ALIPAY, cny(1000), "SO-1", "SO-1", "tmall")
    payment.request_more("SO-1-2", "cod", cny(300))
    assert trades_to_open(payment) == []  # the channel's numbering: it opened its own


def test_a_balance_asked_for_after_a_change_is_a_second_trade() -> None:
    first, more = trade_no(ORDER, 1), trade_no(ORDER, 5)
    payment = Payment.request(ORDER, PaymentMethod.ALIPAY, cny(1000), first, "SO-1", "web")
    payment.capture(first, "alipay", cny(1000), "2026001")
    payment.request_more(more, "alipay", cny(500))
    payment.request_more(trade_no(ORDER, 6), "card", cny(200))  # no gateway: by hand
    assert trades_to_open(payment) == [(more, "alipay", 500)]
