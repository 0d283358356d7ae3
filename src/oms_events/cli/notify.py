"""``oms notify``: the notifier (customer mail and SMS, signed webhooks, channel
feedback) and its webhook subscribers.

``run`` plans each order event's messages exactly once (with the offsets, in one
PostgreSQL transaction) and sends them with an idempotency key, retrying with capped
backoff and dead-lettering after OMS_NOTIFIER_MAX_ATTEMPTS attempts.
"""

from __future__ import annotations

import secrets
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from oms_events.cli.errors import one_line_errors
from oms_events.cli.project import SCHEMA, schema_or_setting
from oms_events.cli.shutdown import on_shutdown
from oms_events.kafka.security import as_service
from oms_events.notifications.notifier import Notifier, connect_in
from oms_events.projection.migrate import migrate_as_owner
from oms_events.projection.registry import select
from oms_events.settings import get_settings

app = typer.Typer(
    help="Customer notifications (mail, SMS), signed webhooks and channel feedback.\n\n"
    "Example: oms notify subscribe crm https://crm.example.com/hooks/oms && oms notify run",
    no_args_is_help=True,
)
out = Console()


@app.command("run")
@one_line_errors
def run(schema: str | None = SCHEMA) -> None:
    """Plan and send notifications until SIGTERM or Ctrl-C; a restart resumes where the
    database says, and sends nothing twice that it recorded as sent.

    Example: OMS_NOTIFIER_SMTP_HOST=mail.example.com oms notify run
    """
    settings = as_service(get_settings(), "notifier")
    stop = on_shutdown()  # finish the message in hand, then leave
    schema = schema_or_setting(schema)
    notifier = Notifier(settings, schema, stop.is_set)
    out.print(f"notifying from schema {schema} over {settings.notifier.channels}")
    try:
        notifier.run()
    finally:
        notifier.close()
    c = notifier.dispatcher.counts
    out.print(f"sent {c['sent']}, retried {c['retried']}, dead {c['dead']}, skipped {c['skipped']}")


def _tables(schema: str | None) -> str:
    schema = schema_or_setting(schema)
    migrate_as_owner(get_settings(), schema, select(["notifications"]))
    return schema


@app.command("subscribe")
@one_line_errors
def subscribe(
    name: Annotated[str, typer.Argument(help="A name for the subscriber, e.g. crm.")],
    url: Annotated[str, typer.Argument(help="Where each step of each order is POSTed.")],
    secret: Annotated[
        str | None,
        typer.Option(help="HMAC-SHA256 key of X-OMS-Signature [default: a new random one]."),
    ] = None,
    schema: str | None = SCHEMA,
) -> None:
    """Subscribe a webhook (or change its URL and secret); prints the secret to share.

    Example: oms notify subscribe crm https://crm.example.com/hooks/oms
    """
    if not url.startswith(("http://", "https://")):
        raise typer.BadParameter("URL must start with http:// or https://", param_hint="URL")
    secret = secret or secrets.token_hex(32)
    schema = _tables(schema)
    with connect_in(get_settings(), schema) as conn:
        conn.execute(
            "INSERT INTO notify_subscriber (subscriber_id, url, secret) VALUES (%s, %s, %s) "
            "ON CONFLICT (subscriber_id) "
            "DO UPDATE SET url = excluded.url, secret = excluded.secret",
            (name, url, secret),
        )
    out.print(f"subscribed {name} -> {url}\nsecret: {secret}")


@app.command("unsubscribe")
@one_line_errors
def unsubscribe(
    name: Annotated[str, typer.Argument(help="The subscriber's name.")],
    schema: str | None = SCHEMA,
) -> None:
    """Stop posting to a subscriber; its pending messages are skipped.

    Example: oms notify unsubscribe crm
    """
    schema = _tables(schema)
    with connect_in(get_settings(), schema) as conn:
        gone = conn.execute(
            "DELETE FROM notify_subscriber WHERE subscriber_id = %s", (name,)
        ).rowcount
    if not gone:
        raise typer.BadParameter(
            f"no subscriber {name}; see oms notify subscribers", param_hint="NAME"
        )
    out.print(f"unsubscribed {name}")


@app.command("subscribers")
@one_line_errors
def subscribers(schema: str | None = SCHEMA) -> None:
    """List the webhook subscribers and how their messages fared.

    Example: oms notify subscribers
    """
    schema = _tables(schema)
    table = Table("subscriber", "url", "sent", "pending", "dead")
    with connect_in(get_settings(), schema) as conn:
        for row in conn.execute(
            "SELECT s.subscriber_id, s.url, "
            "count(*) FILTER (WHERE n.status = 'sent'), "
            "count(*) FILTER (WHERE n.status = 'pending'), "
            "count(*) FILTER (WHERE n.status = 'dead') "
            "FROM notify_subscriber s LEFT JOIN notification n "
            "ON n.channel = 'webhook' AND n.recipient = s.subscriber_id "
            "GROUP BY s.subscriber_id, s.url ORDER BY 1"
        ):
            table.add_row(*(str(v) for v in row))
    out.print(table)
