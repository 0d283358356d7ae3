"""Money as channels really send it, through the real adapter to the order it places.

Each case is a delivery shaped like the channel's public documentation (see the
README.md beside each fixture folder), parsed, normalized and turned into the
PlaceOrder command; the order service's ``order_from_command`` then shows what the
order records: a COD order is never paid, tenders and roundings are kept as sent.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import pytest

from oms_events.domain.errors import InvalidMoney, InvalidOrder
from oms_events.domain.money import Money, minor_units
from oms_events.domain.order import Order, PaymentMethod, Tender
from oms_events.engine.commands import PlaceOrder, TenderDetails
from oms_events.engine.order_service import order_from_command
from oms_events.intake import normalize as n
from oms_events.intake.channels import CHANNELS
from oms_events.intake.errors import Code, Rejection
from oms_events.intake.model import IntakeOrder, place_order
from oms_events.intake.tables import Tables
from tests.unit.intake.conftest import fixture


def deliver(channel: str, raw: bytes, tables: Tables) -> list[IntakeOrder | Rejection]:
    return list(CHANNELS[channel].parse(raw, tables).items)


def placed(channel: str, name: str, tables: Tables) -> list[PlaceOrder]:
    """The PlaceOrder commands a fixture delivery produces (every item must be an order)."""
    items = deliver(channel, fixture(channel, name), tables)
    assert all(isinstance(i, IntakeOrder) for i in items), items
    return [place_order(i) for i in items if isinstance(i, IntakeOrder)]


def order_of(command: PlaceOrder) -> Order:
    return order_from_command(command)


def line_nets(command: PlaceOrder) -> list[int]:
    return [x.unit_price * x.quantity - x.discount for x in command.lines]


# --- Taobao / Tmall ----------------------------------------------------------------


def test_taobao_cod_trade_is_cash_on_delivery_not_a_paid_alipay_order(tables: Tables) -> None:
    (command,) = placed("tmall", "trade_cod.json", tables)
    assert command.payment_method is PaymentMethod.COD and not command.paid
    order = order_of(command)
    assert order.is_cod and order.amount_paid == Money(0, "CNY") and not order.is_paid
    assert order.total == Money(26000, "CNY")  # the courier collects 250.00 + 10.00 post


def test_taobao_seller_price_cut_counts_in_the_total(tables: Tables) -> None:
    (command,) = placed("tmall", "trade_adjust_fee.json", tables)
    first, second = command.lines
    # price * num + adjust_fee - discount_fee = 250.00 - 15.00 - 10.00, as Taobao computes.
    assert (first.discount, first.promotions) == (2500, ("单品优惠", "卖家改价"))
    assert second.discount == 0
    assert sum(line_nets(command)) == 32800 and command.paid
    assert order_of(command).amount_paid == Money(32800, "CNY")


def test_taobao_seller_price_rise_is_counted_once_and_no_discount_goes_negative(
    tables: Tables,
) -> None:
    # One sub-order: the trade repeats its +5.00 in adjust_fee; counted once.
    (command,) = placed("tmall", "trade_adjust_fee_raised.json", tables)
    (line,) = command.lines
    assert line_nets(command) == [12470]  # 3 x 39.90 + 5.00
    assert line.quantity == 3 and line.unit_price == 4157 and line.discount == 1
    assert line.promotions == ("卖家改价",)


def test_taobao_trade_level_adjustment_when_no_sub_order_carries_one(tables: Tables) -> None:
    doc = json.loads(fixture("tmall", "trade_adjust_fee.json"))
    trade = doc["trade_fullinfo_get_response"]["trade"]
    for sub in trade["orders"]["order"]:
        del sub["adjust_fee"]
    trade["adjust_fee"] = "-15.00"
    (order,) = deliver("tmall", json.dumps(doc).encode(), tables)
    assert isinstance(order, IntakeOrder)
    assert order.total == 32800 and sum(x.discount for x in order.lines) == 1000 + 1500


def test_taobao_closed_and_refunded_sub_orders_are_not_lines_to_ship(tables: Tables) -> None:
    (command,) = placed("tmall", "trade_partly_closed.json", tables)
    # Sub-order 2 was refunded after payment, sub-order 3 closed before it: only 1 ships.
    assert [(x.line_no, x.sku) for x in command.lines] == [(1, "SKU-TEA-001")]
    order = order_of(command)
    assert order.total == Money(12500 + 800, "CNY")
    # What the shop holds: the trade's 201.00 less the 68.00 Taobao gave back.
    assert order.amount_paid == order.total


def test_taobao_trade_with_every_sub_order_closed_is_refused(tables: Tables) -> None:
    doc = json.loads(fixture("tmall", "trade_partly_closed.json"))
    first = doc["trade_fullinfo_get_response"]["trade"]["orders"]["order"][0]
    first.update(status="TRADE_CLOSED", refund_status="SUCCESS")
    (rejection,) = deliver("tmall", json.dumps(doc).encode(), tables)
    assert isinstance(rejection, Rejection)
    assert (rejection.code, rejection.field) == (Code.BAD_STATUS, "orders")


# --- JD ------------------------------------------------------------------------------


def test_jd_company_transfer_is_a_known_prepaid_tender(tables: Tables) -> None:
    (command,) = placed("jd", "order_281234567892_company_transfer.xml", tables)
    assert command.paid and command.payment_method is PaymentMethod.CARD  # the prepaid class
    assert command.tenders == (TenderDetails(method="bank_transfer", amount=125000),)
    order = order_of(command)
    assert order.tenders == (Tender("bank_transfer", Money(125000, "CNY")),)
    assert order.is_paid


def test_jd_pickup_is_paid_at_the_pickup_point_not_at_intake(tables: Tables) -> None:
    (command,) = placed("jd", "order_281234567893_pickup.xml", tables)
    assert command.payment_method is PaymentMethod.COD and not command.paid
    assert [t.method for t in command.tenders] == ["pay_at_pickup"]
    assert not order_of(command).is_paid


@pytest.mark.parametrize(
    ("pay_type", "tender", "paid"),
    [
        ("1-货到付款", None, False),
        ("2-邮局汇款", "postal_remittance", True),
        ("4-在线支付", None, True),
        ("6", "bank_transfer", True),
    ],
)
def test_jd_pay_types(pay_type: str, tender: str | None, paid: bool, tables: Tables) -> None:
    raw = fixture("jd", "order_281234567892_company_transfer.xml").decode()
    raw = raw.replace("<payType>5-公司转账</payType>", f"<payType>{pay_type}</payType>")
    (order,) = deliver("jd", raw.encode(), tables)
    assert isinstance(order, IntakeOrder)
    assert order.paid is paid and [t.method for t in order.tenders] == ([tender] if tender else [])


def test_jd_unknown_pay_type_is_refused(tables: Tables) -> None:
    raw = fixture("jd", "order_281234567892_company_transfer.xml").decode()
    raw = raw.replace("5-公司转账", "9-白条")
    (rejection,) = deliver("jd", raw.encode(), tables)
    assert isinstance(rejection, Rejection) and rejection.field == "payType"


# --- Shopify-style web shop -------------------------------------------------------


def test_shopify_manual_gateway_named_for_cod_is_cod(tables: Tables) -> None:
    (command,) = placed("web", "order_1003_cod_manual.json", tables)
    assert command.payment_method is PaymentMethod.COD and not command.paid


@pytest.mark.parametrize(
    "gateway",
    [
        "Cash on Delivery (COD)",
        "cash_on_delivery",
        "COD",
        "Cash On Delivery",
        "Pay on delivery",
        "Cash on Delivary",  # as a shop named it (ShopifySharp issue 796)
        "货到付款",
        "ＣＯＤ 到付",
    ],
)
def test_shopify_cod_names_even_when_marked_paid(gateway: str, tables: Tables) -> None:
    doc = json.loads(fixture("web", "order_1001.json"))
    doc.update(gateway=gateway, payment_gateway_names=["gift_card", gateway])
    doc["financial_status"] = "paid"  # the shop marked it: the courier has not collected
    (order,) = deliver("web", json.dumps(doc).encode(), tables)
    assert isinstance(order, IntakeOrder)
    command = place_order(order)
    assert command.payment_method is PaymentMethod.COD and not command.paid


@pytest.mark.parametrize(
    ("gateway", "method"),
    [("alipay", "alipay"), ("WeChat Pay", "wechat_pay"), ("shopify_payments", "card")],
)
def test_shopify_prepaid_gateways(gateway: str, method: str, tables: Tables) -> None:
    doc = json.loads(fixture("web", "order_1001.json"))
    doc.update(gateway=gateway, payment_gateway_names=[gateway])
    (order,) = deliver("web", json.dumps(doc).encode(), tables)
    assert isinstance(order, IntakeOrder) and (order.payment_method, order.paid) == (method, True)


# --- POS tills ------------------------------------------------------------------------


def test_pos_tenders_cash_split_cod_and_rounding(tables: Tables) -> None:
    items = deliver("pos", fixture("pos", "batch_S004_tenders.csv"), tables)
    orders = {i.external_id: place_order(i) for i in items if isinstance(i, IntakeOrder)}
    refused = {i.external_id: (i.code, i.field) for i in items if isinstance(i, Rejection)}

    cash = orders["S004-000501"]
    assert cash.paid and cash.tenders == (TenderDetails(method="cash", amount=6800),)

    split = orders["S004-000502"]
    assert split.paid and split.payment_method is PaymentMethod.WECHAT_PAY  # the larger part
    assert [(t.method, t.amount) for t in split.tenders] == [("wechat_pay", 20000), ("cash", 5000)]
    assert order_of(split).tenders == (
        Tender("wechat_pay", Money(20000, "CNY")),
        Tender("cash", Money(5000, "CNY")),
    )

    rounded = orders["S004-000503"]  # 3 x 39.90 at 95折 = 113.71; the till took 113.70
    (line,) = rounded.lines
    assert line.discount == 599 + 1 and line.promotions == ("95折", "抹零")
    assert order_of(rounded).amount_paid == Money(11370, "CNY")

    cod = orders["S004-000504"]
    assert cod.payment_method is PaymentMethod.COD and not cod.paid and cod.tenders == ()
    assert order_of(cod).amount_paid == Money(0, "CNY")

    deposit = orders["S004-000507"]  # 25.00 cash deposit, 100.00 collected by the courier
    assert deposit.payment_method is PaymentMethod.COD and not deposit.paid
    assert [(t.method, t.amount) for t in deposit.tenders] == [("cash", 2500), ("cod", 10000)]

    assert refused == {
        "S004-000505": (Code.PRICE_MISMATCH, "row 6.payment"),  # tenders 120.00 of 125.00
        "S004-000506": (Code.PRICE_MISMATCH, "row 7.paid_total"),  # 71 fen off: no 抹零
    }


def test_order_refuses_tenders_that_do_not_add_up(tables: Tables) -> None:
    (command,) = placed("jd", "order_281234567892_company_transfer.xml", tables)
    wrong = dataclasses.replace(command, tenders=(TenderDetails(method="bank_transfer", amount=1),))
    with pytest.raises(InvalidOrder, match="tenders add up"):
        order_of(wrong)
    unknown = dataclasses.replace(command, tenders=(TenderDetails(method="barter", amount=125000),))
    with pytest.raises(InvalidOrder, match="unknown tender method"):
        order_of(unknown)


# --- currencies: ISO 4217 minor units -------------------------------------------------


def test_jpy_and_krw_orders_have_no_minor_units(tables: Tables) -> None:
    (jpy,) = placed("web", "order_1004_jpy.json", tables)
    assert jpy.currency == "JPY" and jpy.lines[0].unit_price == 1500 and jpy.shipping_fee == 800
    assert order_of(jpy).total == Money(3800, "JPY")
    (krw,) = placed("web", "order_1005_krw.json", tables)  # "15000.00": trailing zeros only
    assert krw.lines[0].unit_price == 15000 and order_of(krw).total == Money(18000, "KRW")
    assert str(order_of(krw).total) == "18000 KRW"


@pytest.mark.parametrize(
    ("raw", "currency", "minor"),
    [
        ("12.50", "CNY", 1250),
        ("1500", "JPY", 1500),
        ("15000", "KRW", 15000),
        ("1.250", "BHD", 1250),
        ("3.5", "KWD", 3500),
        ("100", "CLP", 100),
        ("9.99", "USD", 999),
    ],
)
def test_amounts_use_the_iso_4217_exponent(raw: str, currency: str, minor: int) -> None:
    assert n.money(raw, "price", currency) == minor


@pytest.mark.parametrize(("raw", "currency"), [("12.5", "JPY"), ("0.1", "KRW"), ("1.2345", "BHD")])
def test_more_decimals_than_the_currency_has_are_refused(raw: str, currency: str) -> None:
    with pytest.raises(Rejection) as caught:
        n.money(raw, "price", currency)
    assert caught.value.code is Code.BAD_AMOUNT and f"{currency} amount" in caught.value.en


@pytest.mark.parametrize("code", ["ZZZ", "XAU", "XTS", "cny1"])
def test_codes_that_are_no_payable_currency_are_refused(code: str, tables: Tables) -> None:
    with pytest.raises(InvalidMoney):
        minor_units(code)
    doc = json.loads(fixture("web", "order_1004_jpy.json"))
    doc["currency"] = code
    (rejection,) = deliver("web", json.dumps(doc).encode(), tables)
    assert isinstance(rejection, Rejection) and rejection.field == "currency"


def test_minor_units_follow_the_table_not_a_list_of_ours() -> None:
    from iso4217 import Currency

    for currency in Currency:
        if currency.exponent is not None:
            assert minor_units(currency.code) == currency.exponent
            text = Money(10**currency.exponent, currency.code).decimal_text()
            assert Decimal(text) == 1


def test_an_order_snapshotted_before_tenders_existed_has_none(tables: Tables) -> None:
    from eventsourcing.domain import Snapshot

    (command,) = placed("jd", "order_281234567892_company_transfer.xml", tables)
    snapshot = Snapshot.take(order_of(command))
    del snapshot.state["tenders"]  # as written by the previous release
    restored = snapshot.mutate(None)
    assert isinstance(restored, Order) and restored.tenders == () and restored.is_paid
