"""Saved report definitions (a TOML file), their validation and their query.

A definition names a source (``sources.SOURCES``), the dimensions to group by, the
measures to sum and filters; it is validated when the file is read, and every error
is one line naming the report and the bad field::

    [[report]]
    name = "weekly-sales"
    source = "sales"
    dimensions = ["channel", "week"]
    measures = ["orders", "units", "net_amount"]
    last_days = 28                    # window: the 28 business days before the run day
    formats = ["csv", "xlsx", "parquet"]
    charts = ["daily_sales", "channel_mix"]
    schedule = "0 8 * * 1"            # cron, in analytics.timezone: Mondays 08:00
    [report.filters]
    channel = ["tmall", "jd"]
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import psycopg
from croniter import croniter
from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from oms_events.analytics.sources import SOURCES

Format = Literal["csv", "xlsx", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx", "parquet")
CHARTS = (
    "daily_sales",
    "channel_mix",
    "fulfilment_times",
    "delivery_times",
    "return_rates",
    "exceptions_by_kind",
    "stock_cover",
)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class ReportFileError(ValueError):
    """The definitions file cannot be used: one line naming the report and the field."""


class ReportDefinition(BaseModel):
    """One saved report (see the module docstring for the TOML)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Lower-case id: letters, digits, - and _")
    source: str = Field(description="One of sources.SOURCES")
    dimensions: tuple[str, ...] = ()
    measures: tuple[str, ...] = Field(min_length=1)
    filters: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    date_from: date | None = Field(None, alias="from")
    date_to: date | None = Field(None, alias="to")
    last_days: int | None = Field(None, ge=1)
    formats: tuple[Format, ...] = FORMATS
    charts: tuple[str, ...] = ()
    schedule: str | None = None
    description: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> ReportDefinition:
        if not _NAME.match(self.name):
            raise ValueError(f"name: {self.name!r} must be lower-case letters, digits, - or _")
        source = SOURCES.get(self.source)
        if source is None:
            raise ValueError(f"source: {self.source!r} is unknown; use one of {', '.join(SOURCES)}")
        for d in self.dimensions:
            if d not in source.dimensions:
                raise ValueError(
                    f"dimensions: {d!r} is not a dimension of {self.source}; "
                    f"use {', '.join(source.dimensions)}"
                )
        for m in self.measures:
            if m not in source.measures:
                raise ValueError(
                    f"measures: {m!r} is not a measure of {self.source}; "
                    f"use {', '.join(source.measures)}"
                )
        for f in self.filters:
            if f not in source.dimensions or f in ("day", "week", "month"):
                raise ValueError(
                    f"filters.{f}: not a filterable dimension of {self.source}; "
                    "use from/to/last_days for dates"
                )
        windowed = self.date_from or self.date_to or self.last_days
        if windowed and not source.has_days:
            raise ValueError(f"from/to/last_days: source {self.source} has no days")
        if self.last_days and (self.date_from or self.date_to):
            raise ValueError("last_days: give either last_days or from/to, not both")
        for c in self.charts:
            if c not in CHARTS:
                raise ValueError(f"charts: {c!r} is unknown; use {', '.join(CHARTS)}")
        if self.schedule is not None and not croniter.is_valid(self.schedule):
            raise ValueError(
                f'schedule: {self.schedule!r} is not cron syntax; e.g. "0 8 * * 1" (Mondays 08:00)'
            )
        return self

    def window(self, today: date) -> tuple[date | None, date | None]:
        """First and last business day included (None: open), for a run on ``today``."""
        if self.last_days:
            return today - timedelta(days=self.last_days), today - timedelta(days=1)
        return self.date_from, self.date_to


def _one_line(report: str, error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    field = f"{where}: " if where else ""
    return f"report {report!r}: {field}{message}"


def parse_definitions(text: str, origin: str = "reports") -> dict[str, ReportDefinition]:
    """Definitions from TOML text, by name; ReportFileError in one line on the first error."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ReportFileError(f"{origin}: not TOML ({e})") from None
    unknown = set(data) - {"report"}
    if unknown:
        raise ReportFileError(f"{origin}: unknown table {sorted(unknown)[0]!r}; use [[report]]")
    found: dict[str, ReportDefinition] = {}
    for i, raw in enumerate(data.get("report", [])):
        label = str(raw.get("name", f"#{i + 1}"))
        try:
            definition = ReportDefinition.model_validate(raw)
        except ValidationError as e:
            raise ReportFileError(f"{origin}: {_one_line(label, e)}") from None
        if definition.name in found:
            raise ReportFileError(f"{origin}: report {label!r}: name: defined twice")
        found[definition.name] = definition
    return found


def load_definitions(path: Path) -> dict[str, ReportDefinition]:
    """Definitions of the TOML file at ``path`` (settings analytics.reports_file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportFileError(
            f"{path}: no such reports file; create it (docs/analysts.md) or set "
            "OMS_ANALYTICS_REPORTS_FILE"
        ) from None
    return parse_definitions(text, str(path))


@dataclass(frozen=True)
class ReportTable:
    """A report's result: column names and rows, dimensions first."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def query(definition: ReportDefinition, today: date) -> tuple[sql.Composed, dict[str, Any]]:
    """The SELECT of ``definition`` run on business day ``today``, and its parameters."""
    source = SOURCES[definition.source]
    selected = [
        sql.SQL("{} AS {}").format(sql.SQL(source.dimensions[d]), sql.Identifier(d))
        for d in definition.dimensions
    ] + [
        sql.SQL("{} AS {}").format(sql.SQL(source.measures[m]), sql.Identifier(m))
        for m in definition.measures
    ]
    where: list[sql.Composable] = [sql.SQL("true")]
    params: dict[str, Any] = {}
    for i, (dimension, values) in enumerate(sorted(definition.filters.items())):
        where.append(sql.SQL("{} = ANY(%(f{})s)").format(sql.Identifier(dimension), i))
        params[f"f{i}"] = list(values)
    first, last = definition.window(today)
    if first is not None:
        where.append(sql.SQL("day >= %(first)s"))
        params["first"] = first
    if last is not None:
        where.append(sql.SQL("day <= %(last)s"))
        params["last"] = last
    positions = sql.SQL(", ").join(sql.Literal(i + 1) for i in range(len(definition.dimensions)))
    statement = sql.SQL("SELECT {} FROM ({}) AS s WHERE {}").format(
        sql.SQL(", ").join(selected),
        sql.SQL(source.relation),
        sql.SQL(" AND ").join(where),
    )
    if definition.dimensions:
        statement = sql.SQL("{} GROUP BY {} ORDER BY {}").format(statement, positions, positions)
    return statement, params


def run_query(
    conn: psycopg.Connection[Any], definition: ReportDefinition, today: date
) -> ReportTable:
    """Run ``definition`` for business day ``today`` and return its table."""
    statement, params = query(definition, today)
    cur = conn.execute(statement, params)
    columns = tuple(c.name for c in cur.description or ())
    return ReportTable(columns, cur.fetchall())
