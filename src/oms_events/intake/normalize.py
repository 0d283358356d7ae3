"""Cleaning what channels really send: full-width characters, phones, money as strings.

Every function takes the raw value and the field path it came from, and raises a
:class:`Rejection` naming that field when the value cannot be made sense of.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers

from oms_events.domain.money import is_currency, minor_units
from oms_events.intake.errors import Code, Rejection, bad_value, missing

# Full-width ASCII (U+FF01..U+FF5E) sits exactly 0xFEE0 above ASCII; U+3000 is the
# ideographic space. We map only these, not NFKC, so names keep every other character
# (emoji, CJK compatibility forms) exactly as the customer typed them.
_FULL_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_SPACES = re.compile(r"\s+")
# Mobile, or either (libphonenumber cannot tell some numbers apart): dialled without 0.
_MOBILE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)
# A platform's encrypted field: a marker, base64-ish text, the same marker (with
# optional ~0~-style suffixes). Long enough that no real name or street matches.
_ENCRYPTED = re.compile(r"^([~#$])[A-Za-z0-9+/=._\-]{8,}(\1[A-Za-z0-9+/=._\-]*)*\1?$")
_EXTERNAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CURRENCY_MARKS = "¥￥$€元 "


def half_width(text: str) -> str:
    """Full-width ASCII and ideographic spaces to their half-width forms."""
    return text.translate(_FULL_WIDTH)


def text(value: Any, field: str, required: bool = True) -> str | None:
    """A trimmed string with full-width ASCII folded and runs of spaces collapsed.

    Numbers are accepted (channels send ids both ways); containers are not.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise missing(field)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise bad_value(field, value, "text", "文本")
    cleaned = _SPACES.sub(" ", half_width(str(value))).strip()
    if not cleaned:
        if required:
            raise missing(field)
        return None
    # Control characters break CSV exports and terminals downstream.
    if any(ord(c) < 0x20 for c in cleaned):
        raise bad_value(field, value, "printable text", "可打印文本")
    return cleaned


def required_text(value: Any, field: str) -> str:
    """:func:`text` for a field that must be present."""
    result = text(value, field, required=True)
    assert result is not None  # required=True never returns None
    return result


def currency(value: Any, field: str) -> str:
    """An ISO 4217 code of a currency one can pay with, in upper case."""
    code = required_text(value, field).upper()
    if not is_currency(code):
        raise bad_value(field, value, "an ISO 4217 currency code like CNY", "币种代码（如 CNY）")
    return code


def country(value: Any, field: str) -> str:
    """An ISO 3166-1 alpha-2 code in upper case."""
    code = required_text(value, field).upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise bad_value(field, value, "a country code like CN", "国家代码（如 CN）")
    return code


def external_id(value: Any, field: str) -> str:
    """The channel's order id: half-width, trimmed, and safe inside an order number."""
    cleaned = required_text(value, field).replace(" ", "")
    if not _EXTERNAL_ID.match(cleaned):
        raise Rejection(
            Code.BAD_EXTERNAL_ID,
            field,
            f"order id {cleaned[:40]!r} must be 1-64 letters, digits, '.', '_' or '-'",
            f"订单号 {cleaned[:40]!r} 只能包含字母、数字、'.'、'_'、'-'，长度 1-64",
        )
    return cleaned


def phone(
    value: Any,
    field: str,
    required: bool = False,
    country: str = "CN",
    allow_masked: bool = False,
) -> str | None:
    """A phone number read by libphonenumber in the order's ``country``.

    Chinese numbers keep the form Chinese couriers dial: mobiles as 11 digits, landlines
    with their trunk 0 (``057188886666``); every other number is E.164. So
    ``+86 138-0013-8000``, ``８６１３８００１３８０００`` and ``(0571) 8888 6666`` read in CN,
    and ``(503) 555-0187`` reads in US as ``+15035550187``. A number that is not valid
    for its country is ``intake.bad_phone``. ``allow_masked``: a number the platform
    masked or encrypted (``138****1234``, ``~AgAAAA…~``) is returned as sent, for the
    caller to mark the receiver masked (see :func:`masked`).
    """
    raw = text(value, field, required=required)
    if raw is None:
        return None
    if allow_masked and masked(raw):
        return raw
    digits = re.sub(r"[\s\-().]", "", raw)
    if digits.startswith("00"):
        digits = "+" + digits[2:]  # the international prefix typed out (0086)
    elif country == "CN" and len(digits) == 13 and digits.startswith("86"):
        digits = "+" + digits  # the country code typed without the plus
    try:
        number = phonenumbers.parse(digits, country)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise Rejection(
            Code.BAD_PHONE,
            field,
            f"phone {raw[:30]!r} is not a valid number in {country} (nor a +E.164 number)",
            f"电话号码 {raw[:30]!r} 在 {country} 不是有效号码（也不是 +国际号码）",
        )
    if number.country_code == 86:
        national = str(number.national_number)
        mobile = phonenumbers.number_type(number) in _MOBILE_TYPES
        return national if mobile else "0" + national
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def masked(*values: Any) -> bool:
    """Whether any value is masked (``138****1234``, ``张**``) or encrypted by the platform.

    Taobao, JD, Pinduoduo and Douyin hand out receivers this way unless the seller
    decrypts them (a separate, audited API call): ``*`` runs replace characters, and
    encrypted values are base64-like text wrapped in ``~``, ``#`` or ``$`` (Taobao/PDD
    ``~…~``, Douyin ``#…#`` names and addresses, ``$…$`` phones).
    """
    for value in values:
        if not isinstance(value, str):
            continue
        stripped = value.strip()
        if "*" in stripped or "＊" in stripped:
            return True
        if _ENCRYPTED.match(stripped):
            return True
    return False


def line_id(value: Any, field: str, seen: set[str]) -> str | None:
    """The channel's id of an order line, refused when another line of the order has it.

    Shopify's line item ``id`` and Taobao's sub-order ``oid`` name one line each; the same
    id twice is a broken or merged document, and taking both lines could ship twice.
    Absent ids are allowed (older documents): only a repeated id is refused.
    """
    cleaned = text(value, field, required=False)
    if cleaned is None:
        return None
    if cleaned in seen:
        raise Rejection(
            Code.DUPLICATE_LINE,
            field,
            f"line id {cleaned[:40]!r} appears twice in the order: it would ship twice",
            f"订单行号 {cleaned[:40]!r} 重复出现，会导致重复发货",
        )
    seen.add(cleaned)
    return cleaned


def money(value: Any, field: str, currency: str = "CNY") -> int:
    """An amount in minor units: ``"12.50"`` -> 1250, ``"１２.５"`` -> 1250, ``12`` -> 1200.

    Parsed with Decimal, never float; more decimals than the currency has in ISO 4217
    (other than trailing zeros: ``"1200.00"`` JPY is 1200) are refused rather than
    rounded, because rounding hides a wrong price.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise missing(field)
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise _bad_amount(field, value, currency)
    raw = half_width(str(value)).strip().strip(_CURRENCY_MARKS).replace(",", "")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise _bad_amount(field, value, currency) from None
    if not amount.is_finite() or abs(amount) > Decimal(10) ** 12:
        raise _bad_amount(field, value, currency)
    minor = amount.scaleb(minor_units(currency))
    if minor != minor.to_integral_value():
        raise _bad_amount(field, value, currency)
    return int(minor)


def minor_amount(value: Any, field: str) -> int:
    """An amount already in minor units (Douyin's fen: ``12900`` is 129.00 yuan): a whole,
    non-negative number; ``"129.00"`` is refused, since it reads as yuan, not fen."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise missing(field)
    raw = half_width(str(value)).strip() if isinstance(value, str | int) else ""
    if isinstance(value, bool) or not re.fullmatch(r"[0-9]{1,15}", raw):
        shown = repr(value)[:40]
        raise Rejection(
            Code.BAD_AMOUNT,
            field,
            f"{field} is {shown}, not a whole non-negative number of fen (12900 is 129.00)",
            f"{field} 的金额 {shown} 无效（应为以分为单位的非负整数，如 12900 即 129.00 元）",
        )
    return int(raw)


def non_negative_money(value: Any, field: str, currency: str = "CNY") -> int:
    """:func:`money` that must not be negative (prices, fees, discounts)."""
    amount = money(value, field, currency)
    if amount < 0:
        raise _bad_amount(field, value, currency)
    return amount


def optional_money(value: Any, field: str, currency: str = "CNY") -> int:
    """:func:`non_negative_money`, with an absent value meaning zero."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    return non_negative_money(value, field, currency)


def quantity(value: Any, field: str) -> int:
    """A positive whole number of units; ``"2"``, ``"２"`` and ``2.0`` are 2."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise missing(field)
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise _bad_quantity(field, value)
    try:
        number = Decimal(half_width(str(value)).strip())
    except InvalidOperation:
        raise _bad_quantity(field, value) from None
    if not number.is_finite() or number != number.to_integral_value():
        raise _bad_quantity(field, value)
    if number <= 0 or number > 100_000:
        raise _bad_quantity(field, value)
    return int(number)


def _bad_amount(field: str, value: object, currency: str) -> Rejection:
    shown = repr(value)[:40]
    places = minor_units(currency)
    return Rejection(
        Code.BAD_AMOUNT,
        field,
        f"{field} is {shown}, not a non-negative {currency} amount with at most {places} decimals",
        f"{field} 的金额 {shown} 无效（应为非负数，{currency} 最多 {places} 位小数）",
    )


def _bad_quantity(field: str, value: object) -> Rejection:
    shown = repr(value)[:40]
    return Rejection(
        Code.BAD_QUANTITY,
        field,
        f"{field} is {shown}, not a positive whole quantity",
        f"{field} 的数量 {shown} 无效（应为正整数）",
    )
