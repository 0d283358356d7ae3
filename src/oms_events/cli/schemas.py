"""``oms schemas``: the Avro contracts under ``schemas/`` and their released versions."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from oms_events.avro.catalog import RELEASED, SCHEMAS_DIR
from oms_events.avro.evolution import Incompatibility, check_released, release

app = typer.Typer(
    help="Avro schemas (schemas/): check changes against the released set, freeze a release.\n\n"
    "Every schema must stay FULL compatible with each of its copies in schemas/released/v<N>/ "
    "by Avro's resolution rules: the new schema reads records the released one wrote, and the "
    "released one reads records the new one writes (the registry enforces FULL_TRANSITIVE).",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

SchemasOption = typer.Option(
    SCHEMAS_DIR, "--schemas", help="Folder of the .avsc files (released copies in released/)"
)


def _report(problems: list[Incompatibility]) -> None:
    for p in problems:
        err.print(f"[bold red]error:[/] {escape(str(p))}", highlight=False, soft_wrap=True)


def _require_folder(root: Path) -> None:
    if not root.is_dir():
        err.print(f"[bold red]error:[/] no schema folder at {escape(str(root))}", highlight=False)
        raise typer.Exit(2)


@app.command()
def check(schemas: Path = SchemasOption) -> None:
    """Compare every schema with its released copy; exit 1 naming schema and field.

    Apache Avro's checker, both directions (FULL). A new schema passes; a deleted one fails.
    """
    _require_folder(schemas)
    problems = check_released(schemas)
    if problems:
        _report(problems)
        raise typer.Exit(1)
    released = len(list((schemas / RELEASED).rglob("*.avsc")))
    out.print(f"{released} released schema(s) checked: all FULL compatible")


@app.command("release")
def release_(schemas: Path = SchemasOption) -> None:
    """Freeze the schemas that are new or changed since the last release into
    released/v<N+1>/ (refused while the check fails).

    Earlier releases stay: their records are on Kafka forever, so their writer schemas
    keep decoding and every later change is checked against all of them.
    """
    _require_folder(schemas)
    problems = check_released(schemas)
    if problems:
        _report(problems)
        raise typer.Exit(1)
    version, written = release(schemas)
    if not written:
        out.print("nothing changed since the last release; nothing written")
        return
    out.print(f"{len(written)} schema(s) released into {schemas / RELEASED / version}")
