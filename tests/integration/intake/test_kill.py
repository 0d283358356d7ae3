"""Fault: the adapter process is killed with SIGKILL mid-run, restarted, and every
order is still placed exactly once (read_committed), redeliveries included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from oms_events import topics
from oms_events.kafka.connection import consumer
from oms_events.kafka.port import Consumer, TopicPartition
from oms_events.kafka.security import environment as kafka_environment
from oms_events.settings import Settings
from tests.integration.intake.conftest import make_topics, placed, send, wait_for
from tests.integration.intake.conftest import pos_batch as batch


def start(settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **kafka_environment(settings),  # as the admin: these topics have no ACLs
        "OMS_KAFKA_TOPIC_PREFIX": settings.kafka.topic_prefix,
        "OMS_LOG_LEVEL": "warning",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "oms_events.cli.intake", "--channel", "pos", "--batch-size", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def log_end(settings: Settings) -> int:
    """Sum of the commands topic's end offsets: a cheap progress gauge."""
    global _gauge
    if _gauge is None:
        _gauge = consumer(settings, group_id=None)
    name = topics.name(settings, topics.commands("order"))
    tps = [TopicPartition(name, p) for p in _gauge.partitions_for_topic(name)]
    return sum(_gauge.end_offsets(tps).values())


_gauge: Consumer | None = None


@pytest.mark.fault
def test_sigkill_mid_run_then_restart_places_each_order_once(isolated: Settings) -> None:
    make_topics(isolated, "pos")
    first = [batch(f"S{s}", range(1, 3)) for s in range(1, 121)]  # 120 batches x 2 receipts
    send(isolated, "pos", first + first[:30])  # 30 batches delivered twice
    adapter = start(isolated)
    try:
        wait_for(lambda: log_end(isolated) >= 20, timeout=60, interval=0.02)
    finally:
        adapter.send_signal(signal.SIGKILL)
        adapter.wait()
    done_before_kill = len(placed(isolated))
    assert done_before_kill < 240, "killed too late to prove anything; lower the batch size"

    # While it is down, the channel re-sends everything and adds new orders.
    send(isolated, "pos", [*first[:60], batch("S999", range(1, 6))])
    adapter = start(isolated)
    try:
        wait_for(lambda: len(placed(isolated)) >= 245, timeout=120)
        time.sleep(3)  # anything extra would show up now
    finally:
        adapter.send_signal(signal.SIGKILL)
        adapter.wait()

    if _gauge is not None:
        _gauge.close()
    per_order = Counter(record["external_id"] for _, record in placed(isolated))
    assert len(per_order) == 245
    assert set(per_order.values()) == {1}, [k for k, v in per_order.items() if v > 1]
