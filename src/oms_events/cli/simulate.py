"""``oms simulate``: load a running engine with stock and orders and measure it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from oms_events.avro.registry import codec_from_settings
from oms_events.cli.errors import one_line_errors
from oms_events.engine.simulate import Plan, Simulation
from oms_events.kafka.admin import apply_topics
from oms_events.settings import get_settings

out = Console()


@one_line_errors
def simulate(
    orders: Annotated[int, typer.Option("--orders", help="Orders to place.")] = 1000,
    channels: Annotated[int, typer.Option("--channels", help="Sales channels used.")] = 3,
    skus: Annotated[int, typer.Option("--skus", help="Distinct skus.")] = 10,
    locations: Annotated[int, typer.Option("--locations", help="Stock locations.")] = 3,
    rate: Annotated[float, typer.Option("--rate", help="Orders published per second.")] = 200.0,
    stock: Annotated[
        int, typer.Option("--stock", help="Units per sku and location (0: ~90% of demand).")
    ] = 0,
    timeout: Annotated[float, typer.Option("--timeout", help="Give up after seconds.")] = 600,
) -> None:
    """Receive stock, place orders at --rate, ship what is allocated, then print a summary.

    Needs a running engine (`oms run`) on the same settings.
    """
    settings = get_settings()
    apply_topics(settings)
    plan = Plan(
        orders=orders, channels=channels, skus=skus, locations=locations, rate=rate, stock=stock
    )
    sim = Simulation(settings, codec_from_settings(settings.registry), plan)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
    ) as progress:
        tasks = {
            "stock": progress.add_task("stock received", total=skus * locations),
            "orders": progress.add_task("orders decided", total=orders),
        }

        def on_progress(stage: str, done: int, total: int) -> None:
            progress.update(tasks[stage], completed=done, total=total)

        summary = sim.run(on_progress, timeout)
    table = Table("figure", "value", title=f"oms simulate: {orders} orders at {rate:g}/s")
    lat = summary.latency
    for figure, value in (
        ("published", str(summary.published)),
        ("confirmed", str(summary.confirmed)),
        ("rejected", str(summary.rejected)),
        ("shipped (seen so far)", str(summary.shipped)),
        ("orders decided per second", f"{summary.per_second:.1f}"),
        ("latency p50 (publish -> confirmed)", f"{lat.percentile(50) * 1000:.0f} ms"),
        ("latency p95", f"{lat.percentile(95) * 1000:.0f} ms"),
        ("latency p99", f"{lat.percentile(99) * 1000:.0f} ms"),
    ):
        table.add_row(figure, value)
    out.print(table)
    if summary.decided < orders:
        out.print(f"[yellow]{orders - summary.decided} orders undecided after {timeout:g} s[/]")
        raise typer.Exit(2)


if __name__ == "__main__":
    typer.run(simulate)
