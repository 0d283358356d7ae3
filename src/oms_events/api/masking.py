"""Personal data shown masked where a full value is not needed."""

from __future__ import annotations


def mask_phone(phone: str | None) -> str | None:
    """``13812345678`` as ``138****5678``: enough to recognise, not to call."""
    if not phone:
        return phone
    digits = phone.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    keep_head = 3 if len(digits) >= 10 else 0
    return digits[:keep_head] + "*" * (len(digits) - keep_head - 4) + digits[-4:]
