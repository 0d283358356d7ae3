"""``oms stock``: tell the engine that stock arrived (a purchase order, a transfer, a count)."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from rich.console import Console

from oms_events.avro.registry import codec_from_settings
from oms_events.cli.errors import one_line_errors
from oms_events.engine.commands import ReceiveStock
from oms_events.engine.records import CommandWriter
from oms_events.kafka.connection import producer
from oms_events.settings import get_settings

app = typer.Typer(
    help="Stock at locations: commands for the inventory processor.", no_args_is_help=True
)
out = Console()


@app.command()
@one_line_errors
def receive(
    sku: Annotated[str, typer.Argument(help="Our sku, e.g. SKU-TEA-001.")],
    location: Annotated[str, typer.Argument(help="Warehouse or store id, e.g. WH-00.")],
    quantity: Annotated[int, typer.Argument(help="Units received (> 0).", min=1)],
    reason: Annotated[
        str, typer.Option("--reason", help="Why stock moves, e.g. a purchase order number.")
    ] = "receipt",
) -> None:
    """Publish ReceiveStock for SKU at LOCATION; the engine records StockReceived.

    Example: oms stock receive SKU-TEA-001 WH-00 50 --reason PO-2026-001
    """
    settings = get_settings()
    writer = CommandWriter(settings, codec_from_settings(settings.registry))
    command = ReceiveStock(
        command_id=str(uuid.uuid4()), sku=sku, location=location, quantity=quantity, reason=reason
    )
    record = writer.record(command)
    p = producer(settings)
    meta = p.send(record.topic, record.value, key=record.key, headers=record.headers).get(30)
    p.close()
    out.print(f"ReceiveStock {sku} @ {location} +{quantity} -> {record.topic}[{meta.partition}]")
