"""One personal value sealed under its order's key, and opened back.

A sealed value is a string, so Avro's type of the field does not change and any
reader (fastavro alone, a Java consumer) reads it as the token it is::

    pii1:<order id, 32 hex>:<base64 of nonce (12 bytes) + AES-256-GCM ciphertext>

The order id names the key, so a token opens without knowing what record it came in;
it is also the authenticated data, so a token moved to another order does not open.
Without the key (the customer was forgotten) a token reads as :data:`REDACTED`.
"""

from __future__ import annotations

import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "pii1:"
MARK = PREFIX.encode()  # in a record's Avro bytes exactly when it holds a token
REDACTED = "[forgotten]"
KEY_BYTES = 32
_NONCE = 12
_BODY = len(PREFIX) + 33  # where the base64 starts: after the prefix, subject and colon


def is_sealed(value: object) -> bool:
    """True for a string shaped as :func:`seal` writes them (a customer called "pii1:x"
    is sealed like any other)."""
    return (
        isinstance(value, str)
        and value.startswith(PREFIX)
        and len(value) > _BODY
        and value[_BODY - 1] == ":"
    )


def subject_of(token: str) -> str:
    """The order id (32 hex) whose key sealed ``token``."""
    return token[len(PREFIX) : len(PREFIX) + 32]


def seal(cipher: AESGCM, subject: str, value: str) -> str:
    """``value`` sealed for ``subject`` (an order id as 32 hex)."""
    nonce = os.urandom(_NONCE)
    body = cipher.encrypt(nonce, value.encode(), subject.encode())
    return f"{PREFIX}{subject}:{binascii.b2a_base64(nonce + body, newline=False).decode()}"


def open_token(cipher: AESGCM | None, token: str) -> str:
    """The value in ``token``; :data:`REDACTED` without its key or when it was tampered
    with (a redaction, never an error: replays of a forgotten customer must go on)."""
    if cipher is None:
        return REDACTED
    try:
        return opened_by(cipher, token)
    except (InvalidTag, ValueError):
        return REDACTED


def opened_by(cipher: AESGCM, token: str) -> str:
    """The value in ``token``; InvalidTag (or ValueError) unless ``cipher`` sealed it."""
    raw = binascii.a2b_base64(token[_BODY:])
    aad = token[len(PREFIX) : _BODY - 1].encode()
    return cipher.decrypt(raw[:_NONCE], raw[_NONCE:], aad).decode()
