"""``oms intake``: run the channel adapters (every channel, or the ones named)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from oms_events import topics
from oms_events.cli.errors import one_line_errors
from oms_events.cli.shutdown import on_shutdown
from oms_events.intake.adapter import ChannelAdapter, run_channels
from oms_events.intake.state import intake_specs
from oms_events.kafka.admin import apply_topics
from oms_events.kafka.security import as_service
from oms_events.settings import get_settings

out = Console(stderr=True)
CHANNEL_NAMES = ", ".join(topics.CHANNELS)


@one_line_errors
def intake(
    channel: Annotated[
        list[str] | None,
        typer.Option(
            "--channel",
            "-c",
            help=f"Channel to run (repeatable): {CHANNEL_NAMES}. Default: all.",
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Records per Kafka transaction at most.")
    ] = 200,
) -> None:
    """Run the channel adapters: oms.intake.<channel> in, PlaceOrder / ChangeOrder on
    oms.order.commands out, refused input on oms.deadletter, exactly once.

    Creates the intake's dedup changelog topics if missing. Stops cleanly on SIGTERM or
    Ctrl-C (the open batch commits or aborts; nothing is lost either way).
    """
    channel = channel or []
    unknown = [c for c in channel if c not in topics.CHANNELS]
    if unknown:
        raise typer.BadParameter(
            f"unknown channel {unknown[0]!r}; use one of {', '.join(topics.CHANNELS)}",
            param_hint="--channel",
        )
    channels = channel or list(topics.CHANNELS)
    settings = as_service(get_settings(), "intake")
    apply_topics(settings, intake_specs(settings, channels))
    stop = on_shutdown()
    out.print(f"intake running for {', '.join(channels)} (Ctrl-C stops)")
    adapters = run_channels(
        settings,
        channels,
        stop,
        lambda ch: ChannelAdapter(settings, ch, batch_size=batch_size, stop=stop),
    )
    for adapter in adapters:
        out.print(f"{adapter.channel}: {dict(adapter.counts)}")


if __name__ == "__main__":  # `python -m oms_events.cli.intake`, as the fault tests run it
    from oms_events.logging import setup_logging

    settings = get_settings()
    setup_logging(settings.log.format, settings.log.level)
    typer.run(intake)
