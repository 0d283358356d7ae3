"""``oms config``: every setting, its value and where it came from."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from oms_events.cli.errors import one_line_errors
from oms_events.settings import get_settings

app = typer.Typer(
    help="The settings: one object read from OMS_* variables (README, 'Configuration').",
    no_args_is_help=True,
)
out = Console()


@app.command("show")
@one_line_errors
def show(
    section: Annotated[
        str | None, typer.Argument(help="Only this section (kafka, engine, postgres, ...).")
    ] = None,
) -> None:
    """Print every setting with its value, its variable and its source (environment or
    default); secrets such as the PostgreSQL password are masked.

    Example: ``OMS_ENGINE_BATCH_SIZE=200 oms config show engine``
    """
    entries = [
        e for e in get_settings().entries() if section is None or e.name.startswith(f"{section}.")
    ]
    if not entries:
        raise typer.BadParameter(
            f"no section {section!r}; see `oms config show`", param_hint="SECTION"
        )
    if not out.is_terminal:  # piped: whole values, one tab-separated line each, for grep/cut
        for e in entries:
            print("\t".join((e.name, e.shown(), e.variable, e.source)))
        return
    table = Table("setting", "value", "variable", "source", box=None, pad_edge=False)
    for e in entries:
        table.add_row(e.name, e.shown(), e.variable, e.source)
    out.print(table)
