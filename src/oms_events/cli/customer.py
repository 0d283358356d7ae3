"""``oms customer``: what a customer asked of us — not to be told by mail or SMS, or to
be forgotten."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import structlog
import typer
from rich.console import Console

from oms_events.cli.errors import one_line_errors
from oms_events.cli.notify import _tables
from oms_events.cli.project import SCHEMA, schema_or_setting
from oms_events.notifications.masking import mask
from oms_events.notifications.notifier import connect_in
from oms_events.privacy.forget import forget as forget_customer
from oms_events.settings import get_settings

app = typer.Typer(
    help="Customer preferences: opt out of (or back into) notifications; forget a "
    "customer's personal data.\n\n"
    "Example: oms customer opt-out 13800138000 --channel sms",
    no_args_is_help=True,
)
out = Console()
log = structlog.get_logger(__name__)


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


@app.command("forget")
@one_line_errors
def forget(
    customer: Annotated[str, CUSTOMER],
    schema: str | None = SCHEMA,
) -> None:
    """Forget a customer: delete the keys of their orders (every sealed name, phone and
    address of theirs on Kafka then reads \\[forgotten], in replays too) and redact their
    rows in the projections, in one transaction. Cannot be undone.

    遗忘客户：删除其订单的密钥（Kafka 上的姓名、电话、地址从此无法解密），
    并在同一事务中脱敏投影表中的行。不可撤销。

    Running processes may still open the customer's records for OMS_PRIVACY_KEY_TTL_S
    seconds (their key cache); raw channel input and dead letters age out after
    OMS_PRIVACY_RAW_RETENTION_DAYS (README, "Personal data").

    Example: oms customer forget 13800138000
    """
    settings = get_settings()
    done = forget_customer(settings, customer, schema_or_setting(schema))
    log.info("customer.forgotten", phone=customer, orders=done.orders, rows=done.rows)
    out.print(
        f"{mask(customer)}: {done.orders} orders forgotten, {done.rows} rows redacted / "
        f"已遗忘 {done.orders} 个订单，{done.rows} 行已脱敏"
    )
