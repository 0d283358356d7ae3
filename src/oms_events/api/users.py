"""Operators' accounts: argon2id password hashes in ``api_user``, and signed, expiring
bearer tokens (JWT, HS256, key ``api.secret``) from the OAuth2 password flow.

The token names the user; the roles are read from ``api_user`` on every request, so a
disabled user or a removed role takes effect at once, not when the token expires.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from oms_events.api.database import Database
from oms_events.api.roles import Role

_HASHER = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) parameters
# Verifying against this when the user does not exist takes as long as a real check,
# so the answer's timing does not tell which names exist.
_DUMMY = _HASHER.hash(secrets.token_hex(16))
ALGORITHM = "HS256"
MIN_PASSWORD = 8


class BadPassword(ValueError):
    """A password too short to be set."""


@dataclass(frozen=True)
class User:
    """A signed-in user: the actor of what they do."""

    username: str
    roles: tuple[str, ...]


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string) of ``password``; BadPassword when too short."""
    if len(password) < MIN_PASSWORD:
        raise BadPassword(f"the password is shorter than {MIN_PASSWORD} characters")
    return _HASHER.hash(password)


def add_user(db: Database, username: str, password: str, roles: list[str], by: str) -> None:
    """Add ``username`` with ``roles`` (or replace its password and roles)."""
    unknown = sorted(set(roles) - set(Role))
    if unknown or not roles:
        raise ValueError(f"unknown role {', '.join(unknown) or '(none)'}: use {', '.join(Role)}")
    db.execute(
        "INSERT INTO api_user (username, password_hash, roles, created_by) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (username) DO UPDATE SET "
        "password_hash = EXCLUDED.password_hash, roles = EXCLUDED.roles, disabled = false, "
        "created_by = EXCLUDED.created_by, created_at = now()",
        username,
        hash_password(password),
        sorted(set(roles)),
        by,
    )


def authenticate(db: Database, username: str, password: str) -> User | None:
    """The user when ``password`` is theirs and they are not disabled, else None."""
    row = db.row(
        "SELECT password_hash, roles FROM api_user WHERE username = %s AND NOT disabled",
        username,
    )
    try:
        _HASHER.verify(row["password_hash"] if row else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    return User(username, tuple(row["roles"])) if row else None


def current(db: Database, username: str) -> User | None:
    """The user as the table says now (None: removed or disabled)."""
    row = db.row("SELECT roles FROM api_user WHERE username = %s AND NOT disabled", username)
    return User(username, tuple(row["roles"])) if row else None


class Tokens:
    """Issues and checks bearer tokens signed with ``secret``, valid ``ttl_s``."""

    def __init__(self, secret: str, ttl_s: int) -> None:
        # No secret configured: a random one, so tokens die with the process (never a
        # fixed default anyone could sign with).
        self.secret = secret or secrets.token_hex(32)
        self.ttl_s = ttl_s

    def issue(self, user: User, now: float | None = None) -> str:
        """A token naming ``user``."""
        issued = int(now if now is not None else time.time())
        claims = {"sub": user.username, "iat": issued, "exp": issued + self.ttl_s}
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def subject(self, token: str) -> str | None:
        """The user name a valid, unexpired token names, else None."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self.secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
            )
        except jwt.PyJWTError:
            return None
        return str(claims["sub"])
