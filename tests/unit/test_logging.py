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


def test_the_kafka_clients_own_log_lines_are_json_too() -> None:
    # A broker that is down: librdkafka logs its failed connects. They must reach the
    # process's log as JSON lines (an operator's log shipper parses them), not as
    # librdkafka's raw "%3|...|FAIL|..." text on stderr.
    code = (
        "from oms_events.logging import setup_logging; setup_logging('json'); "
        "from oms_events.kafka.confluent import ConfluentClients; "
        "from oms_events.kafka.port import TopicPartition; "
        "c = ConfluentClients('127.0.0.1:1').consumer(); "
        "c.assign([TopicPartition('t', 0)]); "
        "[c.poll(timeout_ms=500) for _ in range(6)]"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # fails on any raw librdkafka line
    assert any("127.0.0.1:1" in json.dumps(r) for r in records), out.stderr[-2000:]
