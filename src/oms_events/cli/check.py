"""``oms check``: audits of the books, from the events themselves."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from oms_events.audit import TERMINAL, audit_live
from oms_events.avro.registry import codec_from_settings
from oms_events.cli.errors import one_line_errors
from oms_events.cli.project import SCHEMA, schema_or_setting
from oms_events.settings import get_settings

app = typer.Typer(
    help="Audit the books from the events: stock balances, orders at their end.",
    no_args_is_help=True,
)
out = Console()


@app.command()
@one_line_errors
def life(
    run: Annotated[
        str,
        typer.Option(
            "--run",
            help="Audit one simulation: its run id (`oms simulate` prints it), e.g. 3fa9c1. "
            "Empty: every order and sku.",
        ),
    ] = "",
    schema: str | None = SCHEMA,
    no_projection: Annotated[
        bool, typer.Option("--no-projection", help="Skip the inventory_level comparison.")
    ] = False,
) -> None:
    """Check the full-life invariants: per (sku, location) received + restocked +
    adjusted − shipped = on hand in inventory_level (and reserved agrees), available never
    negative, inventory and shipments agree on what left, and every order at an end
    (completed, cancelled, rejected, returned). Exit 1 and list the problems if not.
    对账：库存收发存平衡、可用库存不为负、每个订单都已结束；否则列出问题并以 1 退出。

    Example (the run id is what `oms simulate --life full` printed): oms check life --run 3fa9c1
    """
    settings = get_settings()
    prefix = f"SIM-{run}-" if run else ""
    found = audit_live(
        settings,
        codec_from_settings(settings),
        None if no_projection else schema_or_setting(schema),
        order_no_prefix=prefix,
        sku_prefix=prefix,
    )
    table = Table(
        "status 状态", "orders 订单", "at an end 已结束", title=f"orders {prefix or '(all)'}"
    )
    for status, n in found.by_status().most_common():
        table.add_row(status, str(n), "yes 是" if status in TERMINAL else "[red]no 否[/]")
    out.print(table)
    books = found.stock.values()
    out.print(
        f"stock: {len(found.stock)} (sku, location); received {sum(b.received for b in books)}, "
        f"restocked {sum(b.restocked for b in books)}, written off "
        f"{sum(b.written_off for b in books)}, shipped {sum(b.shipped for b in books)}",
        highlight=False,
    )
    if not found.problems:
        out.print(
            "[green]the books balance and every order is at an end / 账实相符，订单均已结束[/]"
        )
        return
    for problem in found.problems[:50]:
        out.print(f"[red]✗[/] {problem}", highlight=False)
    if len(found.problems) > 50:
        out.print(f"… and {len(found.problems) - 50} more")
    raise typer.Exit(1)
