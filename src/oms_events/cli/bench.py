"""``oms bench``: the end-to-end benchmark (engine + projections) beside its baseline.

The benchmark is not part of the installed package: it lives in the checkout's
``bench/e2e`` (with the other benchmarks) and imports the package like any user. This
command runs it as ``python -m bench.e2e`` in the current folder, passing every option
through (``oms bench --help`` lists them). See ``bench/README.md``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

HARNESS = Path("bench") / "e2e" / "__main__.py"


def bench(ctx: typer.Context) -> None:
    """Run the end-to-end benchmark of a checkout (from its top folder); options as
    ``python -m bench.e2e --help`` lists them."""
    if not HARNESS.is_file():
        typer.echo(
            f"oms bench: {HARNESS} is not in {Path.cwd()}: run it from the top folder "
            "of an oms-events checkout (the benchmark is not installed with the package)",
            err=True,
        )
        raise typer.Exit(2)
    # `python -m` puts the current folder first on the child's path, so `bench` imports.
    done = subprocess.run([sys.executable, "-m", "bench.e2e", *ctx.args], check=False)
    raise typer.Exit(done.returncode)
