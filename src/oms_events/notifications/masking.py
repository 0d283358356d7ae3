"""Phones and email addresses as logs may show them: enough to tell two apart, not to
reach anyone (138****5678, z***@example.com)."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_DIGITS = re.compile(r"\+?\d[\d\s-]{5,}\d")


def mask_phone(phone: str) -> str:
    """The last eleven digits (a country code dropped) with the middle four starred: a
    mainland mobile shows as 138****5678, the way platforms print it; short numbers keep
    only their last two digits."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) >= 11:
        national = digits[-11:]
        return f"{national[:3]}****{national[-4:]}"
    return "*" * max(len(digits) - 2, 1) + digits[-2:]


def mask_email(email: str) -> str:
    """The first letter of the local part and the whole domain: z***@example.com."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mask(recipient: str) -> str:
    """A recipient of any channel as logs may print it: emails and phones masked,
    a subscriber or channel name kept."""
    if _EMAIL.fullmatch(recipient):
        return mask_email(recipient)
    if _DIGITS.fullmatch(recipient):
        return mask_phone(recipient)
    return recipient


def mask_text(text: str) -> str:
    """Every email address and phone number inside ``text`` masked (error messages of a
    server often repeat the address they refused)."""
    text = _EMAIL.sub(lambda m: mask_email(m.group()), text)
    return _DIGITS.sub(lambda m: mask_phone(m.group()), text)
