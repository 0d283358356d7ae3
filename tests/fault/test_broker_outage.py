"""The Kafka broker restarted under a running engine (``oms run``): the engine does not
exit, and every command sent before and after the outage is applied exactly once. The
broker stopped is one this test starts on its own ports and data directory (sharing
the dev broker's resolved jars), never the shared one."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from oms_events.devservices.kafka_broker import KafkaBroker
from oms_events.engine.commands import ReceiveStock
from oms_events.kafka.admin import apply_topics
from oms_events.settings import Settings
from tests.integration.engine.harness import TEST_TIMEOUTS, read_events, send, wait_for

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def own_broker(isolated: Settings) -> Iterator[tuple[Settings, KafkaBroker]]:
    """``isolated`` settings pointing at a broker of this test's own (ports, data dir)."""
    home = Path(tempfile.mkdtemp(prefix="oms-kafka-outage-"))
    port, controller = free_port(), free_port()
    settings = isolated.replace(
        kafka={"bootstrap_servers": f"127.0.0.1:{port}", "partitions": 1},
        dev={"data_dir": home, "kafka_port": port, "kafka_controller_port": controller},
    )
    broker = KafkaBroker(settings)
    shared = KafkaBroker(isolated)
    broker.home.mkdir(parents=True)
    broker.lib.symlink_to(shared.lib, target_is_directory=True)  # the jars, not the data
    broker.start()
    try:
        yield settings, broker
    finally:
        broker.stop()
        shutil.rmtree(home, ignore_errors=True)


def receipts(settings: Settings, n: int) -> None:
    send(
        settings,
        [
            ReceiveStock(
                command_id=str(uuid.uuid4()), sku="TEA", location="WH-SH", quantity=1, reason="po"
            )
            for _ in range(n)
        ],
    )


def received(settings: Settings) -> int:
    return sum(e.name == "StockReceived" for e in read_events(settings, "inventory"))


@pytest.mark.skip(
    reason="intermittent: after a 3 s outage the engine sometimes applies nothing more for "
    "90 s (no error, no rejoin logged); see README, Tests"
)
def test_broker_restart_under_oms_run_is_waited_out_and_commands_apply_once(
    own_broker: tuple[Settings, KafkaBroker],
) -> None:
    settings, broker = own_broker
    apply_topics(settings)
    log = ROOT / ".pytest_cache" / f"engine-outage-{uuid.uuid4().hex[:8]}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "OMS_KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "OMS_KAFKA_TOPIC_PREFIX": settings.kafka.topic_prefix,
        "OMS_KAFKA_PARTITIONS": "1",
        **{f"OMS_ENGINE_{k.upper()}": str(v) for k, v in TEST_TIMEOUTS.items()},
        "OMS_RECOVERY_MAX_BACKOFF_S": "2",
        "OMS_LOG_FORMAT": "json",
    }
    args = [sys.executable, "-m", "oms_events.cli.run", "--no-apply-topics", "--only", "inventory"]
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=out, stderr=out)
    try:
        receipts(settings, 5)
        assert wait_for(lambda: received(settings) == 5, 60), log.read_text()[-3000:]
        broker.stop()
        # The engine meets the outage: its clients fail to reconnect (librdkafka's log).
        assert wait_for(lambda: "Connection refused" in log.read_text(), 30, 0.2)
        assert proc.poll() is None, log.read_text()[-3000:]
        broker.start()
        receipts(settings, 5)
        assert wait_for(lambda: received(settings) >= 10, 90), log.read_text()[-3000:]
        assert proc.poll() is None, log.read_text()[-3000:]
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert received(settings) == 10  # nothing applied twice
    assert code == 0, log.read_text()[-3000:]
