"""A report table written as CSV, XLSX (openpyxl) or Parquet (pyarrow)."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook

from oms_events.analytics.reports import ReportTable


def _plain(value: Any) -> Any:
    # numeric columns come back as Decimal; spreadsheets and Arrow want floats.
    return float(value) if isinstance(value, Decimal) else value


def write_csv(table: ReportTable, path: Path) -> Path:
    """UTF-8 CSV with a header row (with BOM, so Excel shows Chinese text)."""
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f)
        writer.writerow(table.columns)
        writer.writerows(table.rows)
    return path


def write_xlsx(table: ReportTable, path: Path, title: str) -> Path:
    """One sheet named after the report: header row, then the rows (frozen header)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has its first sheet
    sheet.title = title[:31]  # Excel's limit on sheet names
    sheet.append(list(table.columns))
    for row in table.rows:
        sheet.append([_plain(v) for v in row])
    sheet.freeze_panes = "A2"
    book.save(path)
    return path


def write_parquet(table: ReportTable, path: Path) -> Path:
    """A Parquet file, one column per report column (types inferred by Arrow)."""
    columns = {name: [_plain(row[i]) for row in table.rows] for i, name in enumerate(table.columns)}
    pq.write_table(pa.table(columns), path)
    return path


WRITERS = {"csv": write_csv, "parquet": write_parquet}


def write(table: ReportTable, folder: Path, name: str, fmt: str) -> Path:
    """Write ``table`` to ``folder/name.fmt``."""
    path = folder / f"{name}.{fmt}"
    if fmt == "xlsx":
        return write_xlsx(table, path, name)
    return WRITERS[fmt](table, path)
