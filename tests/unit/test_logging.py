"""Logs are JSON lines when not on a terminal."""

from __future__ import annotations

import json
import subprocess
import sys


def test_json_lines_for_machines() -> None:
    code = (
        "from oms_events.logging import setup_logging; import structlog; "
        "setup_logging('json'); structlog.get_logger().info('order.placed', order_no='OMS-1')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    record = json.loads(out.stderr.strip().splitlines()[-1])
    assert record["event"] == "order.placed"
    assert record["order_no"] == "OMS-1"
    assert record["level"] == "info"
    assert "timestamp" in record
