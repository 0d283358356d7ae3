"""``oms run``: the engine — processors for each aggregate type and the order saga.

Run several processes with the same settings to share the partitions; each
partition has one owner at a time. SIGTERM (or Ctrl-C) finishes the open
transaction, leaves the group and exits.
"""

from __future__ import annotations

from typing import Annotated

import typer

from oms_events.cli.errors import one_line_errors
from oms_events.engine.runner import PROCESSORS, Engine
from oms_events.kafka.admin import apply_topics
from oms_events.kafka.security import as_service
from oms_events.logging import setup_logging
from oms_events.settings import get_settings

ONLY_HELP = f"Run only these processors (repeat the option): {', '.join(PROCESSORS)}."


@one_line_errors
def run(
    only: Annotated[list[str] | None, typer.Option("--only", help=ONLY_HELP)] = None,
    apply: Annotated[
        bool,
        typer.Option("--apply-topics/--no-apply-topics", help="Create or verify the topics first."),
    ] = True,
) -> None:
    """Start the engine and run until SIGTERM."""
    only = only or []
    settings = as_service(get_settings(), "engine")
    if apply:
        apply_topics(settings)
    engine = Engine(settings, only)
    raise typer.Exit(engine.run_forever())


def main() -> None:
    """``python -m oms_events.cli.run``: the same command without the ``oms`` group."""
    settings = get_settings()
    setup_logging(settings.log.format, settings.log.level)
    typer.run(run)


if __name__ == "__main__":
    main()
