"""Personal data kept out of the logs: phones, names and addresses masked in every log
line (issue 18). Logs are copied to terminals, files and tickets, and kept longer than
anyone remembers; a forgotten customer must not live on in them.

Masking follows what Taobao and JD show a merchant of a receiver: ``138****0000`` for a
mobile number, the first character of a name, no street address at all. Phones are
found anywhere (an error message quoting a field), names and addresses by their keys.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

# A mainland mobile number (11 digits from 13x-19x), not part of a longer number.
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
# Keys holding a phone of any form (a landline 010-12345678, an international number):
# masked but their ends, whatever the digits.
_PHONE_KEYS = frozenset({"phone", "mobile", "tel", "receiver_phone", "receiver_mobile"})
_NAME_KEYS = frozenset({"name", "receiver_name", "buyer_name", "member_name", "signer"})
_ADDRESS_KEYS = frozenset(
    {"address", "line1", "line2", "street", "detail_address", "receiver_address", "addr"}
)


def mask_phone(text: str) -> str:
    """Every mainland mobile number in ``text`` shown as 138****0000."""
    return _MOBILE.sub(r"\1****\2", text)


def _masked(key: str, value: Any) -> Any:
    if isinstance(value, MutableMapping):
        return {k: _masked(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(key, v) for v in value]
    if not isinstance(value, str) or not value:
        return value
    if key in _ADDRESS_KEYS:
        return "***"
    if key in _NAME_KEYS:
        return value[0] + "*" * min(len(value) - 1, 2) if len(value) > 1 else "*"
    if key in _PHONE_KEYS:
        digits = re.sub(r"\D", "", value)
        return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 7 else "****"
    return mask_phone(value)


def mask_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: the event with personal data masked (see the module)."""
    for key, value in list(event_dict.items()):
        event_dict[key] = _masked(key, value)
    return event_dict
