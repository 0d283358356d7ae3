"""``oms whatif``: replay a window of recorded demand and supply through other
fulfilment rules on a fork of the log, and compare it with what happened."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from oms_events.analytics.charts import whatif_chart
from oms_events.cli.errors import one_line_errors
from oms_events.cli.order import language
from oms_events.settings import get_settings
from oms_events.whatif import fork
from oms_events.whatif.comparison import METRICS, Comparison

out = Console()
err = Console(stderr=True)

BY = {  # by -> (column, table title)
    "en": {
        "channel": ("channel", "difference per channel"),
        "region": ("region", "difference per ship-to region"),
    },
    "zh": {"channel": ("渠道", "按渠道的差异"), "region": ("区域", "按收货区域的差异")},
}
TEXT: dict[str, dict[str, str]] = {
    "en": {
        "reading": "reading the live log",
        "replaying": "replaying into the fork",
        "total": "what-if: {orders} orders, {records} records replayed in {seconds:.1f} s",
        "metric": "metric",
        "actual": "actual",
        "whatif": "what-if",
        "diff": "difference",
        "stock_outs": "stock-outs (sku at location)",
        "changed": "{n} order(s) would have gone differently",
        "kept": "fork kept: topics {prefix}*, schema {schema} (psql: SET search_path TO {schema})",
        "chart": "chart: {paths}",
    },
    "zh": {
        "reading": "读取实际日志",
        "replaying": "重放到分叉",
        "total": "假设分析：{orders} 个订单，重放 {records} 条记录，用时 {seconds:.1f} 秒",
        "metric": "指标",
        "actual": "实际",
        "whatif": "假设",
        "diff": "差异",
        "stock_outs": "缺货（库位上的 SKU）",
        "changed": "{n} 个订单的结果会不同",
        "kept": "已保留分叉：主题 {prefix}*，模式 {schema}（psql：SET search_path TO {schema}）",
        "chart": "图表：{paths}",
    },
}


def _instant(value: str, option: str) -> int:
    """Epoch ms of an ISO-8601 date or time (no offset: UTC)."""
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO-8601 time; use e.g. 2026-11-01 or 2026-11-01T08:00+08:00",
            param_hint=option,
        ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp() * 1000)


def _figure(metric: str, value: float) -> str:
    return f"{value:,.2f}" if metric == "shipping_cost" else f"{value:,.0f}"


def _diff(metric: str, value: float) -> str:
    return f"{value:+,.2f}" if metric == "shipping_cost" else f"{value:+,.0f}"


def _tables(comparison: Comparison, lang: str, title: str) -> list[Table]:
    t = TEXT[lang]
    label = {m: (zh if lang == "zh" else en) for m, en, zh in METRICS}
    total = Table(t["metric"], t["actual"], t["whatif"], t["diff"], title=title)
    for _, metric, a, w, d in comparison.rows("total"):
        total.add_row(label[metric], _figure(metric, a), _figure(metric, w), _diff(metric, d))
    total.add_row(
        t["stock_outs"],
        str(comparison.actual.stock_outs),
        str(comparison.whatif.stock_outs),
        f"{comparison.whatif.stock_outs - comparison.actual.stock_outs:+d}",
    )
    tables = [total]
    shown = ("orders", "confirmed", "shipments", "shipping_cost", "distance_km", "promise_misses")
    for by in ("channel", "region"):
        column, heading = BY[lang][by]
        table = Table(column, *(label[m] for m in shown), title=heading)
        rows: dict[str, dict[str, float]] = {}
        for group, metric, a, _, d in comparison.rows(by):
            rows.setdefault(group, {})[metric] = a if metric == "orders" else d
        for group, values in rows.items():
            table.add_row(
                group,
                *(_figure(m, values[m]) if m == "orders" else _diff(m, values[m]) for m in shown),
            )
        tables.append(table)
    return tables


@one_line_errors
def whatif(
    rules: Annotated[
        Path,
        typer.Option(
            "--rules",
            exists=True,
            dir_okay=False,
            help="Fulfilment rules (TOML) to try; check it first with `oms rules check FILE`. "
            "Its \\[locations] also place both sides on the map for cost and kilometres.",
        ),
    ],
    first: Annotated[
        str,
        typer.Option(
            "--from", help="Start of the window (ISO-8601, e.g. 2026-11-01; no offset: UTC)."
        ),
    ],
    last: Annotated[
        str,
        typer.Option("--to", help="End of the window, exclusive (ISO-8601)."),
    ],
    keep: Annotated[
        bool,
        typer.Option(
            "--keep",
            help="Keep the fork's topics and projection schema for psql (default: removed).",
        ),
    ] = False,
    chart: Annotated[
        Path | None,
        typer.Option(
            "--chart",
            file_okay=False,
            help="Folder to write the chart to (oms-whatif.png and .svg).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the figures as JSON instead of tables.")
    ] = False,
) -> None:
    """Replay the recorded orders, changes, cancellations and stock movements of a
    window through other fulfilment rules on an isolated fork of the log (its own
    topics and schema; live topics are only read), and compare the fork with what
    happened: orders confirmed and rejected, shipments per order, shipping cost,
    kilometres, stock-outs, backorders and promised-date misses, per channel and
    ship-to region. The same inputs always give the same figures.

    Check the rules first with `oms rules check FILE`.

    Example: oms whatif --rules ops/nearest.toml --from 2026-11-01 --to 2026-12-01
    """
    lang = language()
    t = TEXT[lang]
    first_ms, last_ms = _instant(first, "--from"), _instant(last, "--to")
    if last_ms <= first_ms:
        raise typer.BadParameter("must be after --from", param_hint="--to")
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True, disable=as_json) as bar:
        task = bar.add_task(t["reading"], total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, description=t["replaying"], completed=done, total=total)

        result = fork.whatif(get_settings(), rules, first_ms, last_ms, keep=keep, progress=progress)
    comparison = result.comparison
    paths: list[Path] = []
    if chart is not None:
        chart.mkdir(parents=True, exist_ok=True)
        figures = [
            (en, a, w)
            for (_, m, a, w, _), (_, en, _) in zip(comparison.rows("total"), METRICS, strict=True)
        ]
        paths = whatif_chart(figures, chart, "oms")
    if as_json:
        data = fork.as_dict(result)
        data["chart"] = [str(p) for p in paths]
        out.print_json(json.dumps(data, ensure_ascii=False))
        return
    title = t["total"].format(
        orders=len(result.history.orders),
        records=len(result.history.records),
        seconds=result.seconds,
    )
    for table in _tables(comparison, lang, title):
        out.print(table)
    out.print(t["changed"].format(n=len(comparison.changed)))
    if paths:
        out.print(t["chart"].format(paths=", ".join(str(p) for p in paths)), highlight=False)
    if keep:
        out.print(t["kept"].format(prefix=result.prefix, schema=result.schema), highlight=False)
