"""Sign-in (the OAuth2 password flow) and who am I."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from oms_events.api import users
from oms_events.api.access import signed_in
from oms_events.api.services import Services, services

router = APIRouter(tags=["auth"])


class TokenAnswer(BaseModel):
    """A bearer token for ``Authorization: Bearer <access_token>``."""

    access_token: str
    token_type: str = Field("bearer", description="Always bearer")
    roles: list[str] = Field(description="The user's roles")
    expires_in: int = Field(description="Seconds the token is valid")


class Me(BaseModel):
    """The signed-in user."""

    username: str
    roles: list[str]


@router.post(
    "/auth/token",
    response_model=TokenAnswer,
    responses={
        401: {"description": "Wrong name or password"},
        429: {"description": "Too many attempts; see Retry-After"},
    },
    summary="Sign in (OAuth2 password form)",
)
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    api: Annotated[Services, Depends(services)],
) -> TokenAnswer:
    """Exchange a user name and password for a signed, expiring bearer token. More
    than 5 attempts for one name in a row are slowed to one per 10 s (429)."""
    wait = api.logins.take(form.username)
    if wait > 0:
        raise HTTPException(
            429,
            f"too many sign-in attempts for {form.username}: try again in {math.ceil(wait)} s",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    user = users.authenticate(api.db, form.username, form.password)
    if user is None:
        raise HTTPException(
            401, "wrong user name or password", headers={"WWW-Authenticate": "Bearer"}
        )
    return TokenAnswer(
        access_token=api.tokens.issue(user),
        roles=list(user.roles),
        expires_in=api.tokens.ttl_s,
    )


@router.get("/me", response_model=Me, summary="The signed-in user")
def me(user: Annotated[users.User, Depends(signed_in)]) -> Me:
    """Who the bearer token names, with the roles the users table gives them now."""
    return Me(username=user.username, roles=list(user.roles))
