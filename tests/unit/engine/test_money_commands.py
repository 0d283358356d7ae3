"""What the order service tells the payment about the order's money events."""

from __future__ import annotations

from oms_events.domain import Money, Order
from oms_events.domain.ids import order_of_trade, trade_no
from oms_events.domain.order import PaymentMethod, Tender
from oms_events.domain.payment import cod_payment_id
from oms_events.engine.commands import CapturePayment, RequestPayment, RequestRefund, VoidPayment
from oms_events.engine.order_service import money_commands
from tests.unit.domain.samples import address, cny, line, order


def placed_with(*tenders: Tender) -> tuple[Order, list[object]]:
    o = order(lines=[line(1, "SKU-1", 2, 1000)], paid_at_channel="pos:P-1")
    new = Order.place(
        order_no=o.order_no,
        channel="pos",
        external_id="P-1",
        customer=o.customer,
        address=address(),
        lines=list(o.lines.values()),
        payment_method=o.payment_method,
        placed_at=o.placed_at,
        paid_at_channel="pos:P-1",
        tenders=tenders,
    )
    return new, list(new.collect_events())


def test_a_channel_payment_without_tenders_is_one_capture_of_the_total() -> None:
    o, events = placed_with()
    [capture] = money_commands(o, events, "c1")
    assert isinstance(capture, CapturePayment)
    assert (capture.reference, capture.method, capture.amount) == ("SO-1001", "alipay", 2000)
    assert capture.provider_reference == "pos:P-1"


def test_split_tenders_are_captured_each_and_cash_on_delivery_is_asked_for() -> None:
    o, events = placed_with(
        Tender("wechat_pay", cny(1200), "wx-9"),
        Tender("cash", cny(500)),
        Tender("cod", cny(300)),
    )
    commands = money_commands(o, events, "c1")
    assert [(type(c).__name__, c.reference, c.method, c.amount) for c in commands] == [  # type: ignore[attr-defined]
        ("CapturePayment", "SO-1001-1", "wechat_pay", 1200),
        ("CapturePayment", "SO-1001-2", "cash", 500),
        ("RequestPayment", "SO-1001-3", "cod", 300),
    ]
    assert isinstance(commands[2], RequestPayment)
    assert len({c.command_id for c in commands}) == 3


def test_a_refund_agreed_is_a_refund_requested_under_its_id() -> None:
    o, _ = placed_with()
    o.agree_refund("RF-1", {1: 1}, shipping=False, reason="damaged")
    [refund] = money_commands(o, list(o.collect_events()), "c2")
    assert isinstance(refund, RequestRefund)
    assert (refund.refund_id, refund.amount, refund.reason) == ("RF-1", 1000, "damaged")


def test_a_balance_owed_after_a_change_is_asked_for_and_one_owed_back_is_refunded() -> None:
    o, _ = placed_with()
    o.add_line("SKU-2", 1, Money(700, "CNY"))
    o.remove_line(1)
    commands = money_commands(o, list(o.collect_events()), "c3")
    # Paid 2000; the order is now 700: 1300 goes back. The 700 the added line owed was
    # withdrawn by the removal in the same command, so it is never asked for.
    assert [(type(c).__name__, c.amount) for c in commands] == [  # type: ignore[attr-defined]
        ("RequestRefund", 1300),
    ]


def test_a_balance_asked_again_withdraws_the_trade_of_the_first_ask() -> None:
    """Two edits of a paid order, each owing more: the second asks for the whole new
    balance and withdraws the first trade, so the customer cannot pay both."""
    o, _ = placed_with()
    o.add_line("SKU-2", 1, Money(700, "CNY"))
    [first] = money_commands(o, list(o.collect_events()), "c3")
    assert isinstance(first, RequestPayment) and first.amount == 700
    o.add_line("SKU-3", 1, Money(300, "CNY"))
    void, second = money_commands(o, list(o.collect_events()), "c4")
    assert isinstance(void, VoidPayment) and void.reference == first.reference
    assert isinstance(second, RequestPayment) and second.amount == 1000  # not 700 + 1000
    assert second.reference != first.reference


def test_an_offline_payment_in_full_withdraws_what_we_asked_for() -> None:
    """An operator records cash for an unpaid order: the trade we opened at placing
    must close, or the customer could pay it online as well."""
    o, events = unpaid(PaymentMethod.ALIPAY)
    [ask] = money_commands(o, events, "c1")
    assert isinstance(ask, RequestPayment)  # the trade opened at placing
    o.record_payment("offline:cash-1", o.total)
    capture, void = money_commands(o, list(o.collect_events()), "c2")
    assert isinstance(capture, CapturePayment) and capture.amount == o.total.amount
    assert isinstance(void, VoidPayment) and void.reference is None  # every open tender
    assert void.reason == "paid in full by offline:cash-1"


def unpaid(method: PaymentMethod) -> tuple[Order, list[object]]:
    o = order(lines=[line(1, "SKU-1", 2, 1000)])
    new = Order.place(
        order_no=o.order_no,
        channel="web",
        external_id="W-1",
        customer=o.customer,
        address=address(),
        lines=list(o.lines.values()),
        payment_method=method,
        placed_at=o.placed_at,
    )
    return new, list(new.collect_events())


def test_an_order_the_channel_did_not_collect_is_asked_for_under_a_trade_of_ours() -> None:
    o, events = unpaid(PaymentMethod.WECHAT_PAY)
    [ask] = money_commands(o, events, "c1")
    assert isinstance(ask, RequestPayment)
    assert (ask.method, ask.amount) == ("wechat_pay", o.total.amount)
    # The trade number names the order, within WeChat Pay's 32 characters.
    assert order_of_trade(ask.reference) == o.id and len(ask.reference) <= 32


def test_cash_on_delivery_is_asked_for_at_placing_as_a_cod_tender_nobody_opens() -> None:
    o, events = unpaid(PaymentMethod.COD)
    [ask] = money_commands(o, events, "c1")
    assert isinstance(ask, RequestPayment)
    assert (ask.method, ask.amount, order_of_trade(ask.reference)) == ("cod", o.total.amount, o.id)
    # The courier's cash, recorded by the payment service, is not captured again.
    o.record_payment(cod_payment_id("SF", "SF1"), o.total)
    assert money_commands(o, list(o.collect_events()), "c2") == []


def test_a_cancelled_order_withdraws_the_tenders_it_asked_for() -> None:
    o, _ = unpaid(PaymentMethod.ALIPAY)
    o.cancel("customer changed their mind")
    [void] = money_commands(o, list(o.collect_events()), "c2")
    assert isinstance(void, VoidPayment) and void.reason == "customer changed their mind"
    assert void.order_id == o.id


def test_our_trade_paid_is_not_captured_again_but_a_channel_payment_is() -> None:
    o, events = unpaid(PaymentMethod.ALIPAY)
    [ask] = money_commands(o, events, "c1")
    assert isinstance(ask, RequestPayment)
    o.record_payment(ask.reference, o.total)
    assert money_commands(o, list(o.collect_events()), "c2") == []
    o.add_line("SKU-2", 1, Money(700, "CNY"))
    o.record_payment("tmall-pay-2", Money(700, "CNY"))
    capture, settled = money_commands(o, list(o.collect_events()), "c3")
    assert isinstance(capture, CapturePayment) and capture.amount == 700
    assert isinstance(settled, VoidPayment) and settled.reference is None  # nothing open


def test_trade_numbers_round_trip_and_other_references_are_not_ours() -> None:
    o, _ = unpaid(PaymentMethod.ALIPAY)
    assert order_of_trade(trade_no(o.id, 7)) == o.id
    assert trade_no(o.id, 7) != trade_no(o.id, 8)
    for other in ("SO-1001", "SO-1001-2", "OMS-web-ABCDEFGHIJKLMNOPQRSTUVWXYZ-1", "-1", ""):
        assert order_of_trade(other) is None
