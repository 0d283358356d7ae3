"""``oms customer``: what a customer asked of us — not to be told by mail or SMS."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from oms_events.cli.errors import one_line_errors
from oms_events.cli.notify import _tables
from oms_events.cli.project import SCHEMA
from oms_events.notifications.masking import mask
from oms_events.notifications.notifier import connect_in
from oms_events.settings import get_settings

app = typer.Typer(
    help="Customer preferences: opt out of (or back into) notifications.\n\n"
    "Example: oms customer opt-out 13800138000 --channel sms",
    no_args_is_help=True,
)
out = Console()


class Channel(StrEnum):
    """Channels a customer can opt out of."""

    EMAIL = "email"
    SMS = "sms"
    ALL = "all"


CUSTOMER = typer.Argument(help="The customer's phone, email or account at the channel.")
CHANNEL = typer.Option("--channel", help="email, sms or all.")


@app.command("opt-out")
@one_line_errors
def opt_out(
    customer: Annotated[str, CUSTOMER],
    channel: Annotated[Channel, CHANNEL] = Channel.ALL,
    schema: str | None = SCHEMA,
) -> None:
    """Send this customer no more mail or SMS (messages not yet sent are skipped).

    Example: oms customer opt-out 13800138000 --channel sms
    """
    schema = _tables(schema)
    with connect_in(get_settings(), schema) as conn:
        conn.execute(
            "INSERT INTO notify_opt_out (customer, channel) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (customer, channel.value),
        )
    out.print(f"{mask(customer)} opted out of {channel.value}")


@app.command("opt-in")
@one_line_errors
def opt_in(
    customer: Annotated[str, CUSTOMER],
    channel: Annotated[Channel, CHANNEL] = Channel.ALL,
    schema: str | None = SCHEMA,
) -> None:
    """Undo an opt-out (``--channel all`` undoes every one of the customer's).

    Example: oms customer opt-in 13800138000
    """
    schema = _tables(schema)
    with connect_in(get_settings(), schema) as conn:
        if channel is Channel.ALL:
            conn.execute("DELETE FROM notify_opt_out WHERE customer = %s", (customer,))
        else:
            conn.execute(
                "DELETE FROM notify_opt_out WHERE customer = %s AND channel = %s",
                (customer, channel.value),
            )
    out.print(f"{mask(customer)} opted in to {channel.value}")
