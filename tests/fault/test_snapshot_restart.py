"""A restart after SIGKILL reads the snapshots, not the whole events log.

The engine writes a snapshot of each order as it leaves memory (allocated: nothing
left for the engine to decide until the warehouse reports) and a checkpoint of each
snapshots partition, in the transactions of the events. After two waves of orders
the engine is killed; the next one rebuilds every order partition from its snapshots
and reads only the events after the checkpoint, keeps no order in memory, and yet
cancels an order of the first wave by reloading it from its snapshot on demand.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from oms_events import topics
from oms_events.engine.commands import CancelOrder
from oms_events.settings import Settings
from tests.integration.engine.harness import (
    audit_stock,
    engine_process,
    light,
    order_outcomes,
    place_order,
    publish_orders,
    read_events,
    receive,
    send,
    wait_for,
)

# Dormant orders leave memory at once (no resting room), the path this test is about.
ENV = {
    "OMS_ENGINE_SNAPSHOT_EVERY": "5",
    "OMS_ENGINE_REDELIVERY_WINDOW_S": "1",
    "OMS_ENGINE_DORMANT_KEPT": "0",
}
WAVE = 60


def _rebuilt(proc: subprocess.Popen[bytes], topic: str) -> list[dict[str, Any]]:
    lines = Path(proc.log_path).read_text().splitlines()  # type: ignore[attr-defined]
    found = [json.loads(line) for line in lines if '"rebuilt"' in line]
    return [r for r in found if r.get("event") == "rebuilt" and r.get("topic") == topic]


def _allocated(settings: Settings, orders: list[dict[str, Any]]) -> bool:
    outcomes = order_outcomes(settings)
    return all(outcomes.get(o.key) == "OrderAllocated" for o in orders)


def test_a_restart_after_sigkill_reads_snapshots_and_reloads_on_demand(
    isolated: Settings,
) -> None:
    settings = light(isolated)
    orders_topic = topics.name(settings, topics.events("order"))
    first = engine_process(settings, "inventory", "order", extra_env=ENV)
    second = None
    try:
        receive(settings, {("TEA", "SH"): 1000})
        assert wait_for(
            lambda: any(e.name == "StockReceived" for e in read_events(settings, "inventory")),
            60,
            0.2,
        )
        time.sleep(2)  # the order saga's stock view follows the same events
        wave1 = [place_order(f"W1-{i}", "TEA") for i in range(WAVE)]
        publish_orders(settings, wave1)
        assert wait_for(lambda: _allocated(settings, wave1), 120, 0.5)
        time.sleep(3)  # the second wave's checkpoint lies well after the first's events
        wave2 = [place_order(f"W2-{i}", "TEA") for i in range(WAVE)]
        publish_orders(settings, wave2)
        assert wait_for(lambda: _allocated(settings, wave2), 120, 0.5)
        first.kill()  # SIGKILL: no final snapshots, nothing flushed on the way out
        first.wait()
        events = read_events(settings, "order")
        first_wave = {o.key for o in wave1}
        behind = sum(str(e.originator_id) in first_wave for e in events)

        second = engine_process(settings, "inventory", "order", extra_env=ENV)
        assert wait_for(lambda: len(_rebuilt(second, orders_topic)) == 3, 120, 0.5)
        rebuilt = _rebuilt(second, orders_topic)
        assert all(r["from_snapshot"] for r in rebuilt), rebuilt
        assert sum(r["snapshots"] for r in rebuilt) >= 2 * WAVE
        # Every allocated order is in its closed snapshot: nothing is replayed on top,
        # none of the first wave's events is read again (the checkpoint lies after
        # them), and no order is kept in memory.
        assert sum(r["applied"] for r in rebuilt) == 0, rebuilt
        assert sum(r["events"] for r in rebuilt) <= len(events) - behind, (rebuilt, behind)
        assert sum(r["in_memory"] for r in rebuilt) == 0
        assert sum(r["out_of_memory"] for r in rebuilt) == 2 * WAVE

        # A first-wave order comes back from its snapshot for a command.
        order_id = wave1[0].key
        cancel = CancelOrder(command_id=str(uuid.uuid4()), order_id=order_id, reason="customer")
        send(settings, [cancel])
        assert wait_for(lambda: order_outcomes(settings)[order_id] == "OrderCancelled", 60, 0.5)
        cancelled = [e for e in read_events(settings, "order") if str(e.originator_id) == order_id]
        versions = [e.originator_version for e in cancelled]
        assert versions == list(range(1, len(versions) + 1))  # continues its history
        assert wait_for(
            lambda: (
                sum(audit_stock(read_events(settings, "inventory")).reserved.values())
                == 2 * WAVE - 1
            ),
            60,
            0.5,
        )
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(60)
