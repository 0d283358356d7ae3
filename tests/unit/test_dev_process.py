"""Finding a running dev service by its pid file: a live node whose port does not
answer at once is waited for, never started a second time on the same data dir (which
failed every test of one CI worker in round six), and a stale pid file naming someone
else's process is not taken for ours."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from oms_events.devservices import kafka_broker, process
from oms_events.devservices.kafka_broker import KafkaBroker, KafkaCluster
from oms_events.devservices.process import ServiceError, read_pid
from oms_events.settings import Settings


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A live process whose command line names the Kafka main class."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "kafka.Kafka"])
    yield proc
    proc.kill()
    proc.wait()


def test_a_pid_file_is_ours_only_when_the_process_runs_our_command(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    pid_file = tmp_path / "x.pid"
    pid_file.write_text(str(sleeper.pid))
    assert read_pid(pid_file) == sleeper.pid
    assert read_pid(pid_file, "kafka.Kafka") == sleeper.pid
    assert read_pid(pid_file, "oms_events.carriersim") is None  # a recycled pid
    sleeper.kill()
    sleeper.wait()
    assert read_pid(pid_file) is None


def test_a_running_node_that_does_not_answer_is_waited_for_not_started_again(
    tmp_path: Path, sleeper: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings().replace(dev={"data_dir": tmp_path})
    node = KafkaBroker(settings)
    node.pid_file.parent.mkdir(parents=True)
    node.pid_file.write_text(str(sleeper.pid))
    # Its port never answers (a full accept queue, or still starting).
    monkeypatch.setattr(kafka_broker, "port_open", lambda *_a, **_k: False)
    spawned: list[object] = []
    monkeypatch.setattr(kafka_broker, "spawn", lambda *a, **k: spawned.append(a))
    assert node.launch(KafkaCluster(settings)) is None
    with pytest.raises(ServiceError, match="did not serve"):
        node.wait_started(None, timeout=0.5)
    assert spawned == []
    # Once it answers, it serves: nothing was started.
    monkeypatch.setattr(kafka_broker, "port_open", lambda *_a, **_k: True)
    assert node.start(timeout=5) is False
    assert spawned == []


def test_a_new_cluster_id_never_starts_with_a_dash_the_storage_tool_would_read_as_an_option(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first uuid encodes to "-9aJcP17SI6HMXxtSphhBw" (a CI run's), the second not.
    ids = iter([uuid.UUID("fbd68970-fd7b-488e-8731-7c6d4a986107"), uuid.UUID(int=7)])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(ids))
    assert kafka_broker.new_cluster_id() == "AAAAAAAAAAAAAAAAAAAABw"


def test_a_process_still_in_exec_is_ours_at_once(
    tmp_path: Path, sleeper: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Right after Popen returns, the child may still be in exec, its command line empty
    # (the kernel lets the parent go on before it sets up the new arguments): a
    # clean-clone run took the payment sandboxes for dead and failed 254 tests on it.
    pid_file = tmp_path / "x.pid"
    pid_file.write_text(str(sleeper.pid))
    monkeypatch.setattr(process, "command_line", lambda _pid: b"")
    assert read_pid(pid_file, "oms_events.payments.sandbox") == sleeper.pid
