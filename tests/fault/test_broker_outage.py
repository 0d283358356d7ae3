"""The Kafka broker restarted mid-run under every long-running process: ``oms run`` (all
processors), ``oms intake`` and ``oms project``. None exits; orders sent before and after
the outage (as commands and through a channel) are each placed once and decided once,
stock balances, and the projections catch up. The broker stopped is one this test starts
on its own ports and data directory (sharing the dev broker's resolved jars), never the
shared one."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from oms_events.devservices.kafka_broker import KafkaBroker
from oms_events.kafka.admin import apply_topics
from oms_events.kafka.security import as_admin
from oms_events.settings import Settings
from tests.fault.outage import (
    CHANNEL_SKU,
    PROJECTIONS,
    RESTART_S,
    check_orders,
    ride_out,
    start,
    stop_all,
)
from tests.integration.engine.harness import STOCK, receive
from tests.integration.intake.conftest import make_topics
from tests.ports import free_port

# Its recovery is measured: `make test` runs it alone, after the rest (with the cluster's).
pytestmark = pytest.mark.broker_loss


@pytest.fixture
def own_broker(isolated: Settings) -> Iterator[tuple[Settings, KafkaBroker]]:
    """``isolated`` settings pointing at a broker of this test's own (ports, data dir)."""
    home = Path(tempfile.mkdtemp(prefix="oms-kafka-outage-"))
    port, controller = free_port(), free_port()
    # As the admin of this broker (its own credentials file), not of the shared one.
    settings = as_admin(
        isolated.replace(
            kafka={"bootstrap_servers": f"127.0.0.1:{port}", "partitions": 3},
            dev={"data_dir": home, "kafka_port": port, "kafka_controller_port": controller},
        )
    )
    broker = KafkaBroker(settings)
    shared = KafkaBroker(isolated)
    broker.home.mkdir(parents=True)
    broker.lib.symlink_to(shared.lib, target_is_directory=True)  # the jars, not the data
    try:
        broker.start(timeout=RESTART_S)  # inside: a broker that never served is stopped too
        yield settings, broker
    finally:
        broker.stop()
        shutil.rmtree(home, ignore_errors=True)


def test_broker_restart_mid_run_is_waited_out_by_every_process_and_orders_decide_once(
    own_broker: tuple[Settings, KafkaBroker],
) -> None:
    settings, broker = own_broker
    apply_topics(settings)
    make_topics(settings, "pos")
    receive(settings, {**STOCK, (CHANNEL_SKU, "SH"): 100})
    schema = f"t_{uuid.uuid4().hex[:10]}"
    procs = {
        "engine": start(settings, "engine", "oms_events.cli.run", "--no-apply-topics"),
        "intake": start(settings, "intake", "oms_events.cli.intake", "--channel", "pos"),
        "projections": start(
            settings, "project", "oms_events.projection", *PROJECTIONS, "--schema", schema
        ),
    }
    try:
        # Shown with -rP: how long the outage lasted and how fast the engine came back.
        print(ride_out(settings, schema, procs, broker.stop, lambda: broker.start(RESTART_S)))
    finally:
        codes = stop_all(settings, schema, procs)
    assert codes == {"engine": 0, "intake": 0, "projections": 0}
    check_orders(settings)
