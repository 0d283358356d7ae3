"""Sign-in and permission checks for the routes: ``Depends(allow(Permission.x))``.

401 (with ``WWW-Authenticate: Bearer``): no token, a bad or expired one, or a user
since disabled. 403: signed in, but no role of the user grants the permission.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import OAuth2PasswordBearer

from oms_events.api import users
from oms_events.api.roles import Permission, allowed
from oms_events.api.services import Services, services

TOKEN_URL = "/api/v1/auth/token"
_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def signed_in(
    token: Annotated[str | None, Depends(_bearer)],
    api: Annotated[Services, Depends(services)],
) -> users.User:
    """The user the bearer token names, as the users table says now."""
    if not token:
        raise _unauthorized("sign in: POST /api/v1/auth/token, then send Authorization: Bearer")
    name = api.tokens.subject(token)
    user = users.current(api.db, name) if name else None
    if user is None:
        raise _unauthorized(
            "the token is invalid or expired, or the user is disabled: sign in again"
        )
    return user


def allow(permission: Permission) -> Callable[[users.User], users.User]:
    """A dependency letting in users with a role that grants ``permission``."""

    def check(user: Annotated[users.User, Depends(signed_in)]) -> users.User:
        if not allowed(user.roles, permission):
            raise HTTPException(
                403, f"{permission.value} is not granted to roles {', '.join(user.roles)}"
            )
        return user

    return check
