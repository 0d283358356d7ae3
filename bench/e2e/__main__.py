"""``python -m bench.e2e`` (what ``oms bench`` runs): the end-to-end benchmark beside
its baseline. Run from the checkout's top folder; see ``bench/README.md``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from bench.e2e.harness import Bench, Options, parse_layout
from bench.e2e.report import save, table
from bench.e2e.workload import Mix

from oms_events.cli.errors import one_line_errors
from oms_events.logging import setup_logging
from oms_events.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]  # the checkout: bench/ lives only there


def _rates(text: str) -> tuple[float, ...]:
    try:
        rates = tuple(float(r) for r in text.split(",") if r.strip())
    except ValueError:
        rates = ()
    if not rates or any(r <= 0 for r in rates):
        raise typer.BadParameter(
            f"{text!r} is not a list of positive rates: write e.g. 100,250,500",
            param_hint="--rates",
        )
    return rates


@one_line_errors
def bench(
    rates: Annotated[
        str, typer.Option("--rates", help="Fixed open-loop rates, orders/s, comma-separated.")
    ] = "100,250,500",
    seconds: Annotated[float, typer.Option("--seconds", help="Seconds per fixed rate.")] = 20,
    ramp: Annotated[
        bool, typer.Option("--ramp/--no-ramp", help="Then ramp to the highest sustained rate.")
    ] = True,
    ramp_seconds: Annotated[float, typer.Option("--ramp-seconds", help="Seconds per step.")] = 10,
    ramp_steps: Annotated[int, typer.Option("--ramp-steps", help="Most ramp steps.")] = 5,
    ramp_factor: Annotated[float, typer.Option("--ramp-factor", help="Rate x per step.")] = 1.25,
    baseline: Annotated[
        bool,
        typer.Option("--baseline/--no-baseline", help="Run the eventsourcing.postgres baseline."),
    ] = True,
    baseline_cache: Annotated[
        bool,
        typer.Option("--baseline-cache/--no-baseline-cache", help="AGGREGATE_CACHE_MAXSIZE."),
    ] = True,
    replay: Annotated[
        bool, typer.Option("--replay/--no-replay", help="Measure replay afterwards.")
    ] = True,
    profile: Annotated[
        bool,
        typer.Option("--profile", help="Run the engine's hot processors under pyinstrument."),
    ] = False,
    skus: Annotated[int, typer.Option("--skus", help="Distinct skus (Zipf popularity).")] = 1000,
    layout: Annotated[
        str,
        typer.Option(
            "--layout",
            help="Engine processes, '/' between processes and ',' between the processors "
            "of one, e.g. order/inventory/shipment,warehouse.",
        ),
    ] = "order/inventory,shipment,warehouse",
    keep: Annotated[bool, typer.Option("--keep", help="Keep the run's topics and schema.")] = False,
    results: Annotated[Path, typer.Option("--results", help="Where the JSON and PNG go.")] = ROOT
    / "bench"
    / "results",
) -> None:
    """Start `oms run` (2 processes unless --layout says otherwise) and `oms project` on
    the local Kafka and PostgreSQL,
    drive a realistic order mix at fixed rates and a ramp, measure throughput, latency,
    projection lag, memory and replay, run the eventsourcing.postgres baseline, and save
    JSON + PNG under bench/results/."""
    setup_logging(get_settings().log.format, "warning")

    fixed = _rates(rates)
    try:
        engine_layout = parse_layout(layout)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--layout") from None
    opts = Options(
        rates=fixed,
        seconds=seconds,
        ramp=ramp,
        ramp_seconds=ramp_seconds,
        ramp_steps=ramp_steps,
        ramp_factor=ramp_factor,
        baseline=baseline,
        baseline_cache=baseline_cache,
        replay=replay,
        profile=profile,
        mix=Mix(skus=skus),
        layout=engine_layout,
        results=results,
        keep=keep,
    )
    stamp = time.strftime("%Y%m%dT%H%M%S")
    result = Bench(opts, lambda line: typer.echo(line, err=True)).run()
    if baseline:
        typer.echo("baseline: eventsourcing.postgres, same workload, one process", err=True)
        argv = [
            sys.executable,
            "-m",
            "bench.e2e.baseline",
            "--rates",
            ",".join(f"{r:g}" for r in fixed),
            "--seconds",
            str(seconds),
            "--max-seconds",
            str(ramp_seconds),
            "--skus",
            str(skus),
        ]
        if not baseline_cache:
            argv.append("--no-cache")
        import json

        out = subprocess.run(argv, check=True, capture_output=True, text=True, cwd=ROOT).stdout
        result["baseline"] = json.loads(out.strip().splitlines()[-1])
    path, png = save(result, results, stamp)
    typer.echo(table(result))
    typer.echo(f"\nsaved {path}" + (f" and {png}" if png else " (no matplotlib: no chart)"))
    for name, where in result.get("profiles", {}).items():
        typer.echo(f"profile {name}: {where}")


def main() -> None:
    """``python -m bench.e2e``: the benchmark as one command."""
    typer.run(bench)


if __name__ == "__main__":
    main()
