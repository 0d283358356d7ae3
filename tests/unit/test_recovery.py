"""The waits between reconnection attempts double up to the cap and start over after a
success; a stop request cuts a wait short; ``oms status`` sees who waits for what."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from oms_events.recovery import Backoff
from oms_events.settings import RecoverySettings
from oms_events.waits import Wait, WaitBoard, current


def test_delays_double_up_to_the_cap_and_restart_after_recovery() -> None:
    backoff = Backoff(RecoverySettings(initial_backoff_s=0.5, max_backoff_s=4.0), stop=lambda: True)
    delays = []
    for _ in range(6):
        delays.append(backoff.next_delay())
        backoff.wait("PostgreSQL", ConnectionError("refused"))  # stop: returns at once
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.waiting_for == "PostgreSQL"
    backoff.recovered()
    assert backoff.next_delay() == 0.5 and backoff.waiting_for is None


def test_a_thousand_failures_do_not_overflow_the_delay() -> None:
    backoff = Backoff(RecoverySettings(), stop=lambda: True)
    backoff.failures = 1000
    assert backoff.next_delay() == RecoverySettings().max_backoff_s


def test_a_wait_is_shown_to_oms_status_until_the_service_is_back(tmp_path: Path) -> None:
    board = WaitBoard(tmp_path, "inventory")
    backoff = Backoff(RecoverySettings(), stop=lambda: True, board=board)
    backoff.wait("Kafka", ConnectionError("refused"))
    backoff.wait("Kafka", ConnectionError("refused again"))
    (wait,) = current(tmp_path)
    assert (wait.process, wait.pid, wait.waiting_for, wait.attempt) == (
        "inventory",
        os.getpid(),
        "Kafka",
        2,
    )
    assert wait.error == "ConnectionError: refused again"
    backoff.recovered()
    assert current(tmp_path) == []


def test_the_wait_of_a_process_that_died_is_not_shown(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    pid = int(dead.stdout)
    (tmp_path / f"projections-{pid}.json").write_text(
        json.dumps(asdict(Wait("projections", pid, "PostgreSQL", time.time(), 1, "refused")))
    )
    assert current(tmp_path) == []
    assert not list(tmp_path.iterdir())  # removed
