"""Logs may tell two customers apart, never reach one."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from oms_events.notifications.masking import mask, mask_email, mask_phone, mask_text


def test_a_mainland_mobile_keeps_its_first_three_and_last_four_digits() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138-1234-5678") == "138****5678"


def test_an_email_keeps_one_letter_and_the_domain() -> None:
    assert mask_email("zhang.san@example.com") == "z***@example.com"


def test_mask_picks_by_what_the_recipient_is() -> None:
    assert mask("13812345678") == "138****5678"
    assert mask("ann@example.com") == "a***@example.com"
    assert mask("crm") == "crm"  # a subscriber's name is no secret


def test_text_is_masked_wherever_a_contact_appears() -> None:
    text = mask_text("550 no mailbox ann@example.com; sms 13812345678 refused")
    assert "ann@example.com" not in text and "13812345678" not in text
    assert "a***@example.com" in text and "138****5678" in text


@given(st.from_regex(r"1[3-9]\d{9}", fullmatch=True))
def test_no_masked_phone_shows_its_middle_digits(phone: str) -> None:
    shown = mask(phone)
    assert shown == f"{phone[:3]}****{phone[-4:]}"
