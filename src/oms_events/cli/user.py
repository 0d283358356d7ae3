"""``oms user add | disable | key | revoke | list``: who may use the operator API, and
channels' intake keys."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from oms_events.api.channel_keys import add_key
from oms_events.api.database import Database
from oms_events.api.roles import Role
from oms_events.api.users import BadPassword, add_user
from oms_events.cli.errors import one_line_errors
from oms_events.cli.project import SCHEMA, schema_or_setting
from oms_events.settings import get_settings
from oms_events.topics import CHANNELS

app = typer.Typer(
    help="Users of the operator API (/api/v1) and channels' intake keys.", no_args_is_help=True
)
out = Console()
ROLES = ", ".join(Role)


def _database(schema: str | None) -> Database:
    settings = get_settings()
    db = Database(settings.postgres.dsn, schema_or_setting(schema), size=1)
    db.migrate(settings)
    return db


def _password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password / 密码: ")
    if getpass.getpass("Again / 再输一次: ") != first:
        raise typer.BadParameter("the two passwords differ; run the command again")
    return first


@app.command()
@one_line_errors
def add(
    name: Annotated[
        str, typer.Argument(help="Sign-in name; recorded as the actor of what they do.")
    ],
    role: Annotated[list[Role], typer.Option("--role", help=f"A role ({ROLES}); repeat for more.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin's first line.")
    ] = False,
    schema: str | None = SCHEMA,
) -> None:
    """Add user NAME with --role (or replace their password and roles). The password is
    asked twice on a terminal, or read from stdin's first line (at least 8 characters);
    it is stored as an argon2id hash.

    Example: oms user add li.lei --role customer_service
    Example: echo 's3cret-pass' | oms user add ops --role admin --password-stdin
    """
    if not name.strip():
        raise typer.BadParameter("NAME is empty: e.g. oms user add li.lei --role admin")
    password = _password(password_stdin)
    db = _database(schema)
    try:
        add_user(db, name, password, [r.value for r in role], by=getpass.getuser())
    except BadPassword as error:
        raise typer.BadParameter(f"{error}: choose a longer one") from None
    finally:
        db.close()
    out.print(f"user {name}: {', '.join(r.value for r in role)}")


@app.command()
@one_line_errors
def key(
    channel: Annotated[str, typer.Argument(help=f"The channel: {', '.join(CHANNELS)}.")],
    schema: str | None = SCHEMA,
) -> None:
    """Make a key for CHANNEL's intake and print its id and secret (shown once: give
    them to the integration). Requests are signed as the README's API section shows.

    Example: oms user key tmall
    """
    if channel not in CHANNELS:
        raise typer.BadParameter(f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}")
    db = _database(schema)
    try:
        key_id, secret = add_key(db, channel, by=getpass.getuser())
    finally:
        db.close()
    # Plain lines (no wrapping): `eval "$(oms user key web)"` sets both variables.
    typer.echo(f"OMS_CHANNEL_KEY={key_id}")
    typer.echo(f"OMS_CHANNEL_SECRET={secret}")


@app.command()
@one_line_errors
def disable(
    name: Annotated[str, typer.Argument(help="The user to lock out.")],
    schema: str | None = SCHEMA,
) -> None:
    """Lock NAME out: sign-in and the tokens they hold are refused from now on
    (`oms user add` again to let them back in with a new password).

    Example: oms user disable li.lei
    """
    db = _database(schema)
    try:
        done = db.execute("UPDATE api_user SET disabled = true WHERE username = %s", name)
    finally:
        db.close()
    if not done:
        raise typer.BadParameter(f"no user {name!r}; see oms user list")
    out.print(f"user {name} disabled")


@app.command()
@one_line_errors
def revoke(
    key_id: Annotated[str, typer.Argument(help="The channel key's id (X-OMS-Key).")],
    schema: str | None = SCHEMA,
) -> None:
    """Revoke a channel key: its requests are refused (401) within 10 s.

    Example: oms user revoke ck_web_0123456789ab
    """
    db = _database(schema)
    try:
        done = db.execute(
            "UPDATE api_key SET revoked_at = now() WHERE key_id = %s AND revoked_at IS NULL",
            key_id,
        )
    finally:
        db.close()
    if not done:
        raise typer.BadParameter(f"no live key {key_id!r}; see oms user list")
    out.print(f"key {key_id} revoked")


@app.command("list")
@one_line_errors
def list_(schema: str | None = SCHEMA) -> None:
    """List the users (roles, disabled) and the channels' keys (never their secrets).

    Example: oms user list
    """
    db = _database(schema)
    try:
        users = db.rows("SELECT username, roles, disabled, created_at FROM api_user ORDER BY 1")
        keys = db.rows(
            "SELECT key_id, channel, created_by, created_at, revoked_at FROM api_key ORDER BY 2, 4"
        )
    finally:
        db.close()
    table = Table("user", "roles", "state", "since", title="Users")
    for u in users:
        state = "disabled" if u["disabled"] else "active"
        table.add_row(u["username"], ", ".join(u["roles"]), state, f"{u['created_at']:%Y-%m-%d}")
    out.print(table)
    keys_table = Table("key", "channel", "by", "since", "revoked", title="Channel keys")
    for k in keys:
        revoked = f"{k['revoked_at']:%Y-%m-%d %H:%M}" if k["revoked_at"] else "-"
        keys_table.add_row(
            k["key_id"], k["channel"], k["created_by"], f"{k['created_at']:%Y-%m-%d}", revoked
        )
    out.print(keys_table)
