"""``oms channel``: act as a sales channel (publish fixtures in the channel's own format)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from oms_events import topics
from oms_events.cli.errors import one_line_errors
from oms_events.intake.channels import CHANNELS
from oms_events.intake.errors import Rejection
from oms_events.intake.state import intake_specs
from oms_events.intake.tables import Tables
from oms_events.kafka.admin import apply_topics
from oms_events.kafka.connection import producer
from oms_events.settings import get_settings

app = typer.Typer(
    help="Play a sales channel: publish deliveries on oms.intake.<channel> as it would.",
    no_args_is_help=True,
)
out = Console()
CHANNEL_NAMES = ", ".join(CHANNELS)


@app.command()
@one_line_errors
def send(
    channel: Annotated[str, typer.Argument(help=f"Channel: {CHANNEL_NAMES}.")],
    files: Annotated[
        list[Path],
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="Deliveries in the channel's format: a JSON/XML file holds one order, or a "
            "page of orders as the platform's API answers (JD orderInfoList, pdd order_list, "
            "douyin shop_order_list); a CSV file is one POS batch. Each file is published as "
            "one record, byte for byte.",
        ),
    ],
) -> None:
    """Publish each FILE as one record on oms.intake.CHANNEL, keyed as the channel keys it
    (its order id; a POS batch by store, a JD page by shop). Invalid files are sent too:
    the adapter dead-letters them, as it would a channel's bad delivery.

    Example: oms channel send pdd tests/fixtures/channels/pdd/order_list_page.json
    """
    if channel not in CHANNELS:
        raise typer.BadParameter(
            f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}", param_hint="CHANNEL"
        )
    settings = get_settings()
    topic = topics.name(settings, topics.intake(channel))
    # Creates the intake topic if missing (a producer would otherwise wait for the
    # metadata of a topic that will never appear), and verifies it if present.
    apply_topics(settings, intake_specs(settings, [channel]))
    tables = Tables.load()
    p = producer(settings)
    try:
        for path in files:
            raw = path.read_bytes()
            try:
                key = CHANNELS[channel].parse(raw, tables).key
            except Rejection:
                key = None  # unreadable: the channel would still send it
            meta = p.send(topic, key=(key or path.stem).encode(), value=raw).get(30)
            out.print(f"sent {path.name} -> {topic}[{meta.partition}]@{meta.offset} key={key}")
    finally:
        p.close()


@app.command()
@one_line_errors
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: OMS_HTTP_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: OMS_HTTP_PORT).")
    ] = None,
) -> None:
    """Serve the HTTP intake (POST /channels/{channel}/orders; OpenAPI at /docs): valid
    deliveries are published on oms.intake.<channel> for the adapters. The payment
    providers' notifications arrive here too (POST /payments/{alipay,wechatpay}/notify,
    the notify URLs of settings.payments)."""
    from oms_events.intake.http import serve as run

    settings = get_settings()
    run(settings, host or settings.http.host, port or settings.http.port)
