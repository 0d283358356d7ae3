"""The carrier and shipment commands without services: labels in both languages, and a
push refused before it is sent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from oms_events.cli import shipment
from oms_events.domain import ShipmentStatus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"


def _oms(*args: str) -> subprocess.CompletedProcess[str]:
    # A child process, as the operator runs it (and the CLI's logging set-up stays there).
    return subprocess.run(
        [sys.executable, "-m", "oms_events.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=60,
    )


def test_shipment_labels_exist_in_both_languages_and_every_status_reads_in_chinese() -> None:
    assert shipment.LABELS["en"].keys() == shipment.LABELS["zh"].keys()
    assert {s.value for s in ShipmentStatus} <= shipment.STATUS["zh"].keys()


def test_a_malformed_push_file_is_refused_with_the_adapters_reason_and_not_sent() -> None:
    # No broker is asked: the check refuses first (exit 2), naming field and fix.
    out = _oms("carrier", "push", str(FIXTURES / "bad_sf_time.json"), "--format", "sf")
    assert out.returncode == 2
    assert "carrier.bad_time" in out.stdout and "acceptTime" in out.stdout


def test_an_unknown_format_option_is_a_usage_error() -> None:
    out = _oms("carrier", "push", str(FIXTURES / "sf_route_push.json"), "--format", "ems")
    assert out.returncode == 2
    assert "sf, zto, jd, generic" in out.stderr
