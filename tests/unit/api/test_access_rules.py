"""Roles, passwords and tokens of the operator API (no services)."""

from __future__ import annotations

import time

import pytest

from oms_events.api.masking import mask_phone
from oms_events.api.roles import GRANTS, Permission, Role, allowed
from oms_events.api.users import BadPassword, Tokens, User, hash_password
from oms_events.settings import Settings

S1 = "one-secret-of-at-least-32-characters"
S2 = "another-secret-of-at-least-32-chars"
WRITES = {
    Permission.orders_act,
    Permission.exceptions_resolve,
    Permission.deadletters_redrive,
}


def test_admin_may_do_everything_and_an_analyst_nothing_that_writes() -> None:
    assert GRANTS[Role.admin] == set(Permission)
    assert not GRANTS[Role.analyst] & WRITES
    assert GRANTS[Role.channel] == {Permission.stock_read}


def test_an_unknown_role_grants_nothing() -> None:
    assert not allowed(["root"], Permission.stock_read)
    assert allowed(["root", "channel"], Permission.stock_read)


def test_a_short_password_is_refused_and_a_hash_never_holds_the_password() -> None:
    with pytest.raises(BadPassword):
        hash_password("short")
    hashed = hash_password("a-long-password")
    assert hashed.startswith("$argon2id$")
    assert "a-long-password" not in hashed


def test_a_token_names_its_user_until_it_expires() -> None:
    tokens = Tokens(S1, ttl_s=60)
    token = tokens.issue(User("li.lei", ("admin",)))
    assert tokens.subject(token) == "li.lei"
    expired = tokens.issue(User("li.lei", ("admin",)), now=time.time() - 120)
    assert tokens.subject(expired) is None


def test_a_token_signed_with_another_secret_or_altered_is_refused() -> None:
    token = Tokens(S1, 60).issue(User("li.lei", ("admin",)))
    assert Tokens(S2, 60).subject(token) is None
    head, claims, signature = token.split(".")
    assert Tokens(S1, 60).subject(f"{head}.{claims}x.{signature}") is None
    assert Tokens(S1, 60).subject("not-a-token") is None


def test_no_secret_means_a_random_one_never_a_fixed_default() -> None:
    assert Tokens("", 60).secret != Tokens("", 60).secret


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("13800138000", "138****8000"), ("+8613800138000", "+86*******8000"), ("1234", "****")],
)
def test_phones_are_masked_to_their_last_four_digits(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


def test_a_short_token_secret_is_refused_by_the_settings() -> None:
    with pytest.raises(ValueError, match="OMS_API_SECRET"):
        Settings().replace(api={"secret": "short"})
