"""Operators get one line that names the problem, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys


def _oms(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oms_events.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )


def test_topics_apply_with_no_broker_names_the_address_in_one_line() -> None:
    out = _oms("topics", "apply", OMS_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert "127.0.0.1:1" in lines[0]
    assert "oms dev up" in lines[0]


def test_bad_setting_names_the_variable() -> None:
    out = _oms("topics", "list", OMS_KAFKA_PARTITIONS="many")
    assert out.returncode != 0
    assert "partitions" in out.stderr.lower()


def test_help_explains_every_command_group() -> None:
    out = _oms("--help")
    assert out.returncode == 0
    for word in ("dev", "topics", "demo"):
        assert word in out.stdout


def test_bench_refuses_bad_rates_and_layouts_before_starting_anything() -> None:
    for args, says in (
        (("--rates", "fast"), "--rates"),
        (("--layout", "order/inventory"), "--layout"),
    ):
        out = _oms("bench", *args, COLUMNS="200")
        assert out.returncode == 2, out.stderr
        assert "Traceback" not in out.stderr
        assert says in out.stderr
        assert "topic prefix" not in out.stderr  # nothing was started
