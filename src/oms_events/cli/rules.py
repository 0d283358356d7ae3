"""``oms rules``: check the fulfilment rules file before the engine reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from oms_events.cli.errors import one_line_errors
from oms_events.fulfilment import rules as rules_file
from oms_events.settings import get_settings

app = typer.Typer(
    help="Fulfilment rules (OMS_FULFILMENT_RULES): sourcing, carriers, boxes.",
    no_args_is_help=True,
)
out = Console()


@app.callback()
def _group() -> None:
    """Keep `oms rules check` a sub-command (more checks and a dry-run plan may follow)."""


@app.command()
@one_line_errors
def check(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="Rules file (TOML); default: OMS_FULFILMENT_RULES.", show_default=False
        ),
    ] = None,
) -> None:
    """Validate a rules file and summarise it; a mistake is one line naming the field
    and the fix (exit 1).

    Example: oms rules check ops/rules.toml
    """
    path = path or get_settings().fulfilment.rules
    if path is None:
        raise typer.BadParameter("give PATH or set OMS_FULFILMENT_RULES")
    rules = rules_file.load(path)
    s = rules.sourcing
    pickup = sorted(loc for loc, e in rules.locations.items() if e.pickup)
    out.print(
        f"{path}: ok — {len(rules.locations)} locations ({len(pickup)} pickup stores), "
        f"{len(rules.suppliers)} drop-ship suppliers, {len(rules.carriers)} carrier rules, "
        f"{len(rules.boxes)} boxes; sourcing ranks by {' > '.join(s.rank_by)}, "
        f"{s.max_shipments or 'any number of'} shipments per order at most, "
        f"lines {'may be' if s.split_lines else 'never'} split",
        highlight=False,
        soft_wrap=True,
    )
