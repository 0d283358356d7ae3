"""``oms simulate``: load a running engine with stock and orders and measure it; with
``--life full``, take every order to its end (carriers, cancellations, COD)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from oms_events.avro.registry import codec_from_settings
from oms_events.cli.errors import one_line_errors
from oms_events.engine.simulate import Plan, Simulation, Summary
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
    life: Annotated[
        str,
        typer.Option(
            "--life",
            help="'decide': stop once every order is allocated or rejected; 'full': also "
            "deliver every parcel (carrier simulator) and wait for the parcels' ends.",
        ),
    ] = "decide",
    cod_rate: Annotated[
        float, typer.Option("--cod-rate", help="Share of orders paid cash on delivery (货到付款).")
    ] = 0.1,
    cancel_rate: Annotated[
        float,
        typer.Option("--cancel-rate", help="Full life: share cancelled after allocation."),
    ] = 0.0,
    intercept_rate: Annotated[
        float,
        typer.Option(
            "--intercept-rate",
            help="Full life: share cancelled after their parcel left; the carrier is asked "
            "to intercept it (拦截) and brings it back, or delivers it when too late.",
        ),
    ] = 0.0,
    failed_delivery_rate: Annotated[
        float,
        typer.Option(
            "--failed-delivery-rate",
            help="Full life: share of delivery attempts that fail (the carrier retries; "
            "after 3 failures the parcel goes back to sender).",
        ),
    ] = 0.1,
    return_rate: Annotated[
        float,
        typer.Option(
            "--return-rate",
            help="Full life: share of orders of which the customer returns a unit once "
            "delivered (sent back, received, inspected, refunded).",
        ),
    ] = 0.0,
    exchange_rate: Annotated[
        float,
        typer.Option(
            "--exchange-rate",
            help="Full life: share of orders of which a unit is exchanged (a return and a "
            "replacement order).",
        ),
    ] = 0.0,
    time_scale: Annotated[
        float,
        typer.Option(
            "--time-scale",
            help="Full life: simulated seconds per real second for the carriers run here "
            "(0: OMS_CARRIERSIM_TIME_SCALE). Ignored when `oms dev up`'s carrier "
            "simulator follows these topics.",
        ),
    ] = 0.0,
) -> None:
    """Receive stock, place orders at --rate, ship what is allocated, then print a summary.

    Needs a running engine (`oms run`) on the same settings. Every order to its end, then
    the audit (`oms check life --run <the run id printed>`):

    Example: oms simulate --orders 300 --life full --cod-rate 0.2 --time-scale 100000

    """
    try:
        plan = Plan(
            orders=orders,
            channels=channels,
            skus=skus,
            locations=locations,
            rate=rate,
            stock=stock,
            life=life,
            cod_rate=cod_rate,
            cancel_rate=cancel_rate,
            intercept_rate=intercept_rate,
            failed_delivery_rate=failed_delivery_rate,
            return_rate=return_rate,
            exchange_rate=exchange_rate,
            time_scale=time_scale,
        )
    except ValueError as exc:  # a bad --life or share, named with its fix
        raise typer.BadParameter(str(exc)) from None
    settings = get_settings()
    apply_topics(settings)
    sim = Simulation(settings, codec_from_settings(settings), plan)
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
        if life == "full":
            tasks["parcels"] = progress.add_task("parcels ended", total=None)

        def on_progress(stage: str, done: int, total: int) -> None:
            progress.update(tasks[stage], completed=done, total=total)

        summary = sim.run(on_progress, timeout)
    table = Table("figure", "value", title=f"oms simulate: {orders} orders at {rate:g}/s")
    lat = summary.latency
    for figure, value in (
        ("run (oms check life --run)", sim.run_id),
        ("published", str(summary.published)),
        ("confirmed", str(summary.confirmed)),
        ("rejected", str(summary.rejected)),
        ("shipped (seen so far)", str(summary.shipped)),
        *_life_rows(summary, life),
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


def _life_rows(summary: Summary, life: str) -> list[tuple[str, str]]:
    if life != "full":
        return []
    ended = summary.parcels_ended
    return [
        ("cancelled", str(summary.cancelled)),
        ("parcels shipped", str(summary.parcels_shipped)),
        ("parcels delivered", str(ended.get("delivered", 0))),
        ("parcels returned to sender", str(ended.get("returned_to_sender", 0))),
        ("parcels back in the warehouse (units)", f"{summary.parcels_back} ({summary.units_back})"),
        ("failed delivery attempts", str(summary.failed_attempts)),
        ("COD collected", f"{summary.cod_collected / 100:.2f}"),
        (
            "returns requested (exchanges)",
            f"{summary.returns.requested} ({summary.returns.exchanges})",
        ),
        ("returns received (damaged)", f"{summary.returns.received} ({summary.returns.damaged})"),
        ("carriers", summary.carrier),
    ]


if __name__ == "__main__":
    typer.run(simulate)
