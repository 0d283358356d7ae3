"""``oms cod reconcile``: couriers' remittance files as they really come (UTF-8 with
BOM, GBK, Chinese or English headers) matched against the cash we collected."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from oms_events.cli.cod import (
    RemittanceFileError,
    batch_of,
    commands,
    parse,
    reconcile,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cod"


def read(name: str, carrier: str | None = "SF") -> list[Any]:
    return parse((FIXTURES / name).read_bytes(), name, carrier)


def collected(
    waybill: str, amount: int, day: int = 30, remitted: int | None = None
) -> dict[str, Any]:
    return {
        "order_id": uuid.uuid4(),
        "order_no": f"SO-{waybill[-3:]}",
        "channel": "web",
        "currency": "CNY",
        "carrier": "SF",
        "tracking_no": waybill,
        "collected_amount": amount,
        "collected_at": datetime(2026, 11, day, 15, tzinfo=UTC),
        "remitted_amount": remitted,
    }


def test_an_excel_export_with_bom_and_chinese_headers_is_read_in_fen() -> None:
    rows = read("sf_remittance_bom.csv")
    assert [(r.waybill, r.amount, r.fee, r.remitted_on) for r in rows] == [
        ("SF1000000001", 12900, 129, date(2026, 12, 3)),
        ("SF1000000002", 8950, 90, date(2026, 12, 3)),
        ("SF9999999999", 1000, 10, date(2026, 12, 3)),
    ]
    assert rows[0].waybill == "SF1000000001"  # no BOM stuck to the first header or cell


def test_a_gbk_export_with_other_header_words_and_yuan_signs_is_read() -> None:
    [row] = read("sf_remittance_gbk.csv")
    assert (row.waybill, row.amount, row.fee, row.remitted_on, row.carrier) == (
        "SF1000000003",
        100000,
        1000,
        date(2026, 12, 3),
        "SF",
    )


def test_the_couriers_own_name_in_the_file_is_its_code() -> None:
    [row] = read("sf_remittance_gbk.csv", carrier=None)  # 快递公司 column: 顺丰
    assert row.carrier == "SF"


def test_english_headers_are_read_too() -> None:
    [row] = read("remittance_en.csv")
    assert (row.waybill, row.amount, row.fee) == ("SF1000000001", 12900, 129)


def test_a_file_neither_utf8_nor_gbk_is_one_line_error() -> None:
    with pytest.raises(RemittanceFileError, match="neither UTF-8 nor GBK"):
        read("remittance_utf16.csv")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "oms_events.cli.main",
            "cod",
            "reconcile",
            str(FIXTURES / "remittance_utf16.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 1 and len(lines) == 1, out.stderr
    assert "remittance_utf16.csv: neither UTF-8 nor GBK" in lines[0]


def test_a_bad_amount_names_the_line_and_column() -> None:
    data = "运单号,代收货款,回款日期\nSF1,12.345,2026-12-03\n".encode()
    with pytest.raises(RemittanceFileError, match=r"x.csv line 2: 代收货款/cod_amount '12.345'"):
        parse(data, "x.csv", "SF")


def test_a_messy_file_is_matched_short_paid_missing_and_unknown() -> None:
    rows = read("sf_remittance_bom.csv")
    known = [
        collected("SF1000000001", 12900),  # matched
        collected("SF1000000002", 9950),  # the courier states 89.50 of 99.50: short
        collected("SF1000000004", 5000, day=29),  # collected, not in the file: missing
        collected("SF1000000005", 5000, day=30) | {"carrier": "YTO"},  # another courier's
        collected("SF1000000006", 7000) | {"collected_at": datetime(2026, 12, 3, 9, tzinfo=UTC)},
    ]
    found = {f.waybill: f.result for f in reconcile(rows, known, "SF")}
    assert found == {
        "SF1000000001": "matched",
        "SF1000000002": "short_paid",
        "SF9999999999": "unknown",
        "SF1000000004": "missing",
        # collected on the file's last remittance day: not due in this file yet
    }
    batch = batch_of((FIXTURES / "sf_remittance_bom.csv").read_bytes(), "SF")
    sent = commands(reconcile(rows, known, "SF"), known, batch)
    by = {c.tracking_no: c for c in sent}
    assert set(by) == {"SF1000000001", "SF1000000002", "SF1000000004"}
    assert (by["SF1000000002"].remitted, by["SF1000000002"].fee) == (8950, 90)
    assert by["SF1000000004"].remitted is None  # missing
    # The same file again: the same batch and command ids, so no second effect.
    again = commands(
        reconcile(rows, known, "SF"),
        known,
        batch_of((FIXTURES / "sf_remittance_bom.csv").read_bytes(), "SF"),
    )
    assert [c.command_id for c in again] == [c.command_id for c in sent]


def test_a_waybill_remitted_before_sends_nothing() -> None:
    rows = read("remittance_en.csv")
    known = [collected("SF1000000001", 12900, remitted=12900)]
    [finding] = reconcile(rows, known, "SF")
    assert finding.result == "remitted_before"
    assert commands([finding], known, "b") == []
