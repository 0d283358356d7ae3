"""Who may call what: roles and the permissions each grants, in one table.

Every route names one permission; :func:`allowed` answers for a role set. The role ×
endpoint matrix test checks every route against its own copy of the expected answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    """What a user is: an operator's job, or a channel integration."""

    admin = "admin"
    customer_service = "customer_service"
    warehouse = "warehouse"
    analyst = "analyst"
    channel = "channel"


class Permission(StrEnum):
    """What a route does."""

    orders_read = "orders:read"
    orders_act = "orders:act"
    stock_read = "stock:read"
    exceptions_read = "exceptions:read"
    exceptions_resolve = "exceptions:resolve"
    deadletters_redrive = "deadletters:redrive"
    dashboard_read = "dashboard:read"


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.admin: frozenset(Permission),
    Role.customer_service: frozenset(
        {
            Permission.orders_read,
            Permission.orders_act,
            Permission.stock_read,
            Permission.exceptions_read,
            Permission.exceptions_resolve,
            Permission.dashboard_read,
        }
    ),
    Role.warehouse: frozenset(
        {
            Permission.orders_read,
            Permission.stock_read,
            Permission.exceptions_read,
            Permission.exceptions_resolve,
        }
    ),
    # Reads only: an analyst changes nothing.
    Role.analyst: frozenset(
        {
            Permission.orders_read,
            Permission.stock_read,
            Permission.exceptions_read,
            Permission.dashboard_read,
        }
    ),
    # A channel checks available-to-promise before it submits; its orders come in
    # through the intake, signed with its channel key.
    Role.channel: frozenset({Permission.stock_read}),
}


def allowed(roles: Iterable[str], permission: Permission) -> bool:
    """True when any of ``roles`` grants ``permission`` (unknown roles grant nothing)."""
    known = {r.value: r for r in Role}
    return any(permission in GRANTS[known[r]] for r in roles if r in known)
