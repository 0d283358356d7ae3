"""Review rules (审单): each rule, the auto-approve list, and what holds an order."""

from __future__ import annotations

import pytest

from oms_events.domain.customer import Address, Customer
from oms_events.domain.errors import InvalidWorkflow
from oms_events.domain.order import Order, PaymentMethod
from oms_events.domain.review import (
    ADDRESS,
    PAYMENT,
    RISK_AMOUNT,
    RISK_PHONE,
    STOCK,
    ReviewRules,
    hold_reason,
)
from tests.unit.domain.samples import PLACED_AT, cny, line, order


def reserved(o: Order) -> Order:
    """``o`` with every line reserved."""
    o.reserve_lines([(n, o.reservation_id(n), "WH-SH") for n in o.lines])
    return o


def paid_order(phone: str = "13800000000", price: int = 1000) -> Order:
    """A paid order (¥20.00 at the default price), every line reserved."""
    return reserved(order(lines=[line(price=price)], paid_at_channel="p-1", phone=phone))


RULES = ReviewRules(
    enabled=True,
    amount_above=cny(10_000),
    blocked_phones=frozenset({"13900000000"}),
    trusted_customers=frozenset({"vip"}),
    trusted_channels=frozenset({"pos"}),
)


def test_a_paid_reserved_order_with_a_full_address_passes() -> None:
    assert RULES.failures(paid_order()) == []
    assert RULES.holds(paid_order()) == []


def test_an_unpaid_prepaid_order_waits_for_payment_but_is_not_held() -> None:
    o = reserved(order())
    assert RULES.failures(o) == [PAYMENT]
    assert RULES.holds(o) == []  # the workflow waits for the money


def test_cash_on_delivery_needs_no_payment_first() -> None:
    o = reserved(order(payment_method=PaymentMethod.COD))
    assert PAYMENT not in RULES.failures(o)


def test_an_unreserved_line_fails_stock_and_lines_being_reserved_count() -> None:
    o = order(paid_at_channel="p-1")
    assert RULES.failures(o) == [STOCK]
    assert RULES.failures(o, reserving={1}) == []


def test_an_amount_over_the_threshold_is_a_risk() -> None:
    o = paid_order(price=5001)  # 2 x ¥50.01 = ¥100.02 > ¥100.00
    assert RULES.holds(o) == [RISK_AMOUNT]
    assert RULES.holds(paid_order(price=5000)) == []  # exactly the threshold passes


def test_a_blocked_phone_is_a_risk() -> None:
    assert RULES.holds(paid_order(phone="13900000000")) == [RISK_PHONE]


def test_an_address_without_a_phone_for_the_courier_is_incomplete() -> None:
    o = Order.place(
        order_no="SO-9",
        channel="web",
        external_id="E9",
        customer=Customer(name="Ann", account="ann"),
        address=Address(line1="1 Main St", country="SG"),
        lines=[line()],
        payment_method=PaymentMethod.ALIPAY,
        placed_at=PLACED_AT,
        paid_at_channel="p-9",
    )
    reserved(o)
    assert RULES.holds(o) == [ADDRESS]


def test_every_failed_rule_is_named_in_the_hold_reason() -> None:
    o = paid_order(phone="13900000000", price=9000)
    assert RULES.holds(o) == [RISK_AMOUNT, RISK_PHONE]
    assert hold_reason(RULES.holds(o)) == "review: risk.amount, risk.phone"


@pytest.mark.parametrize("trusted", ["customer", "channel"])
def test_the_auto_approve_list_skips_the_judgement_rules_not_the_waits(trusted: str) -> None:
    rules = ReviewRules(
        enabled=True,
        amount_above=cny(0),
        blocked_phones=frozenset({"13900000000"}),
        trusted_customers=frozenset({"zhangsan"}) if trusted == "customer" else frozenset(),
        trusted_channels=frozenset({"tmall"}) if trusted == "channel" else frozenset(),
    )
    o = paid_order(phone="13900000000")
    assert rules.trusted(o)
    assert rules.holds(o) == []
    assert rules.failures(reserved(order(phone="13900000000"))) == [PAYMENT]


def test_review_off_holds_nothing() -> None:
    rules = ReviewRules(enabled=False, amount_above=cny(0))
    assert rules.holds(paid_order()) == []


def test_rules_load_from_settings_data_and_refuse_unknown_keys() -> None:
    rules = ReviewRules.from_dict(
        {
            "enabled": True,
            "amount_above": {"amount": 500000, "currency": "CNY"},
            "blocked_phones": ["139"],
            "trusted_channels": ["pos"],
        }
    )
    assert rules.amount_above == cny(500000)
    assert rules.blocked_phones == {"139"} and rules.trusted_channels == {"pos"}
    with pytest.raises(InvalidWorkflow):
        ReviewRules.from_dict({"enable": True})
    with pytest.raises(InvalidWorkflow):
        ReviewRules.from_dict({"blocked_phones": "139"})
