"""Every step reads right in Chinese and English, with the facts a customer needs."""

from __future__ import annotations

import pytest

from oms_events.notifications.templates import LOCALES, TEMPLATES, Step, render

FACTS = {
    "order_no": "OMS-0001",
    "name": "张三",
    "carrier": "SF",
    "tracking_no": "SF1234567890123",
    "reason": "nobody home",
    "return_no": "RMA-7",
    "amount": {"amount": 12900, "currency": "CNY"},
}

# What each step must tell, beyond the order number.
MUST_SAY = {
    Step.CONFIRMED: (),
    Step.SHIPPED: ("SF", "SF1234567890123"),
    Step.OUT_FOR_DELIVERY: ("SF1234567890123",),
    Step.DELIVERED: (),
    Step.DELAYED: ("nobody home",),
    Step.REFUND_ISSUED: ("129.00",),
    Step.RETURN_RECEIVED: ("RMA-7",),
}


def test_every_step_has_both_languages() -> None:
    assert set(TEMPLATES) == {(s, loc) for s in Step for loc in LOCALES}


@pytest.mark.parametrize("step", list(Step))
@pytest.mark.parametrize("locale", LOCALES)
def test_each_message_names_the_order_and_its_facts(step: Step, locale: str) -> None:
    m = render(step, locale, FACTS)
    for text in (m.body, m.sms):
        for fact in MUST_SAY[step]:
            assert fact in text, (step, locale, text)
    assert "OMS-0001" in m.body or "RMA-7" in m.body
    assert "{" not in m.subject + m.body + m.sms  # every field filled


@pytest.mark.parametrize("step", list(Step))
def test_chinese_reads_chinese_and_english_reads_english(step: Step) -> None:
    zh, en = render(step, "zh", FACTS), render(step, "en", FACTS)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh.subject)
    assert zh.sms.startswith("【OMS】")  # the signature mainland SMS carry first
    assert en.subject.isascii() and en.sms.startswith("[OMS]")


def test_refund_amount_in_the_readers_form() -> None:
    assert "¥129.00" in render(Step.REFUND_ISSUED, "zh", FACTS).subject
    assert "129.00 CNY" in render(Step.REFUND_ISSUED, "en", FACTS).subject
    usd = {**FACTS, "amount": {"amount": 500, "currency": "USD"}}
    assert "5.00 USD" in render(Step.REFUND_ISSUED, "zh", usd).subject


def test_missing_facts_render_empty_and_unknown_locales_read_english() -> None:
    m = render(Step.SHIPPED, "fr", {"order_no": "A1"})
    assert m.subject == "Order A1 shipped"
    assert "None" not in m.body and "{" not in m.body
