"""``oms user add | key``: who may use the operator API, and channels' intake keys."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from rich.console import Console

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
    db = Database(get_settings().postgres.dsn, schema_or_setting(schema), size=1)
    db.migrate()
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
