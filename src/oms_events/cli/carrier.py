"""``oms carrier push``: publish a carrier's push file to ``oms.carrier.updates``, as the
carrier would (for an operator replaying a push, and for the demo)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from oms_events import topics
from oms_events.carriers import formats
from oms_events.carriers.scan import PushRefused
from oms_events.cli.errors import one_line_errors
from oms_events.kafka.connection import producer
from oms_events.settings import get_settings

app = typer.Typer(
    help="Carrier tracking pushes (SF, ZTO-style, JD, generic).", no_args_is_help=True
)
out = Console()

FORMAT_HELP = (
    "The push's format: sf (丰桥 RoutePushService), zto (ZTO/YTO/STO traces), jd (京东物流 "
    "track) or generic (our JSON). Sent as the record's format header; left out, the "
    "adapter tells by the push's shape."
)

FILE = typer.Argument(..., exists=True, dir_okay=False, help="The push as the carrier sent it.")


@app.command()
@one_line_errors
def push(
    file: Path = FILE,
    format: str | None = typer.Option(None, "--format", help=FORMAT_HELP, show_default=False),
    carrier: str | None = typer.Option(
        None, "--carrier", help="Carrier of a zto-format push from YTO or STO (header carrier)."
    ),
    check: bool = typer.Option(
        True,
        "--check/--no-check",
        help="Read the push here first and refuse it with the adapter's reason; "
        "--no-check sends it anyway (to see it dead-lettered).",
    ),
) -> None:
    """Publish FILE to oms.carrier.updates, keyed by its (first) tracking number.

    Example: oms carrier push tests/fixtures/carriers/sf_route_push.json --format sf
    """
    if format is not None and format not in formats.FORMATS:
        raise typer.BadParameter(f"--format {format!r}: use one of {', '.join(formats.FORMATS)}")
    settings = get_settings()
    raw = file.read_bytes()
    headers = [("format", format.encode())] if format else []
    if carrier:
        headers.append(("carrier", carrier.encode()))
    key = file.stem
    if check:
        try:
            scans = formats.parse(raw, headers)
        except PushRefused as exc:
            out.print(f"[red]refused[/] {exc.code} at {exc.field}: {exc.en} / {exc.zh}")
            raise typer.Exit(2) from None
        key = scans[0].tracking_no
        for scan in scans:
            when, place = scan.occurred_at.isoformat(), scan.location or "-"
            out.print(f"{scan.carrier} {scan.tracking_no} {scan.status} {when} {place}")
    topic = topics.name(settings, topics.CARRIER_UPDATES)
    p = producer(settings)
    try:
        p.send(topic, raw, key=key.encode(), headers=headers)
        p.flush()
    finally:
        p.close()
    out.print(f"published to {topic}, key {key}")
