"""The contested-stock scenario with engine processes killed, replaced and paused.

Every check reads the committed log (read_committed) after the run; see
``check_contested_outcome`` for the invariants.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from oms_events import topics
from oms_events.settings import Settings
from tests.integration.engine.harness import (
    STOCK,
    check_contested_outcome,
    decided,
    engine_process,
    light,
    order_events_written,
    publish_concurrently,
    read_topic,
    receive,
    stock_ready,
    wait_for,
)

ORDERS = 2000
MIDWAY = 2000  # committed order events (~4 per order) before the fault: about a quarter


class Engines:
    """Engine child processes of one test; every one is stopped at the end."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, **env: str) -> subprocess.Popen[bytes]:
        proc = engine_process(
            self.settings, "inventory", "order", extra_env={k.upper(): v for k, v in env.items()}
        )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> list[int | None]:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.terminate()
        return [p.wait(60) for p in self.procs]


@pytest.fixture
def engines(isolated: Settings) -> Iterator[Engines]:
    settings = light(isolated)
    e = Engines(settings)
    yield e
    e.stop_all()


def _stocked(engines: Engines) -> Settings:
    settings = engines.settings
    receive(settings, STOCK)
    assert wait_for(lambda: stock_ready(settings), 60, 0.2)
    return settings


def _log(proc: subprocess.Popen[bytes]) -> str:
    return Path(proc.log_path).read_text()  # type: ignore[attr-defined]


def _holding_order_transaction(proc: subprocess.Popen[bytes]) -> bool:
    for line in _log(proc).splitlines():
        if '"holding the transaction open"' in line and '"processor": "order"' in line:
            return True
    return False


def test_engine_killed_midway_and_restarted(engines: Engines) -> None:
    first = engines.start()
    settings = _stocked(engines)
    publish_concurrently(settings, ORDERS)
    assert wait_for(lambda: order_events_written(settings) >= MIDWAY, 120, 0.05)
    first.kill()  # SIGKILL: no clean shutdown, a transaction may be open
    first.wait()
    assert decided(settings) < ORDERS, "killed too late to prove anything"
    engines.start()
    assert wait_for(lambda: decided(settings) == ORDERS, 600, 3)
    check_contested_outcome(settings, ORDERS)


def test_second_engine_takes_over_when_one_is_killed(engines: Engines) -> None:
    a = engines.start()
    engines.start()
    settings = _stocked(engines)
    publish_concurrently(settings, ORDERS)
    assert wait_for(lambda: order_events_written(settings) >= MIDWAY, 120, 0.05)
    a.kill()
    a.wait()
    assert decided(settings) < ORDERS, "killed too late to prove anything"
    assert wait_for(lambda: decided(settings) == ORDERS, 600, 3)
    check_contested_outcome(settings, ORDERS)


def test_paused_zombie_is_fenced(engines: Engines) -> None:
    # The zombie holds each batch open for 3 s before committing, so SIGSTOP catches it
    # with records sent and its transaction open.
    zombie = engines.start(oms_engine_commit_delay_ms="3000")
    engines.start()
    settings = _stocked(engines)
    publish_concurrently(settings, ORDERS)
    # Pause only once the zombie's order processor has flushed a batch and is holding
    # its transaction open: pausing on a count of events alone once caught the zombie
    # before it owned any order partition, with nothing open to be fenced.
    assert wait_for(lambda: _holding_order_transaction(zombie), 120, 0.05), _log(zombie)
    zombie.send_signal(signal.SIGSTOP)
    assert decided(settings) < ORDERS, "paused too late to prove anything"
    # Completing needs the zombie's partitions: the other engine must have taken them.
    assert wait_for(lambda: decided(settings) == ORDERS, 600, 3)
    zombie.send_signal(signal.SIGCONT)
    assert wait_for(lambda: "transaction aborted" in _log(zombie), 120, 1), _log(zombie)[-3000:]
    assert engines.stop_all() == [0, 0], "SIGTERM must stop both engines cleanly"
    check_contested_outcome(settings, ORDERS)
    # The zombie did write: its records are on the log, but only uncommitted readers see them.
    events = topics.name(settings, topics.events("order"))
    committed = len(read_topic(settings, events))
    uncommitted = len(read_topic(settings, events, isolation_level="read_uncommitted"))
    assert uncommitted > committed
