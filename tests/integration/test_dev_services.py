"""`oms dev up` is idempotent, `status` names what runs, and the CLI says it plainly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from oms_events.devservices import services
from oms_events.devservices.kafka_broker import KafkaBroker
from oms_events.devservices.process import ServiceError
from oms_events.settings import Settings


def test_up_twice_starts_nothing_new(dev_services: Settings) -> None:
    assert services.up(dev_services) == (False, False, False, False)


def test_status_shows_both_running_with_versions(dev_services: Settings) -> None:
    st = services.status(dev_services)
    assert st.kafka.running and st.postgres.running
    assert st.kafka.version.startswith("4.")
    assert st.kafka.address == dev_services.kafka.bootstrap_servers
    assert st.postgres.dsn == dev_services.postgres.dsn
    assert st.postgres.version[:2].isdigit()


def test_cli_status_prints_the_dsn_whole(dev_services: Settings) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "oms_events.cli.main", "dev", "status"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert out.returncode == 0, out.stderr
    assert dev_services.postgres.dsn in out.stdout
    assert "Apache Kafka 4." in out.stdout


def test_taken_port_is_named_with_the_variable_to_change(
    dev_services: Settings, tmp_path: Path
) -> None:
    clash = dev_services.replace(
        dev={
            "data_dir": tmp_path,
            "kafka_port": 19_192,
            "kafka_controller_port": dev_services.dev.postgres_port,  # PostgreSQL listens there
        }
    )
    with pytest.raises(ServiceError, match="OMS_DEV_KAFKA_CONTROLLER_PORT"):
        KafkaBroker(clash).start()


def test_the_carrier_simulator_starts_follows_its_prefix_and_stops(
    isolated: Settings, tmp_path: Path
) -> None:
    from oms_events.devservices.carrier_simulator import CarrierSimulatorProcess

    settings = isolated.replace(dev={"data_dir": tmp_path})
    carriers = CarrierSimulatorProcess(settings)
    try:
        assert carriers.start() is True
        assert carriers.start() is False  # already following
        st = carriers.status()
        assert st.running and st.topic_prefix == isolated.kafka.topic_prefix
        assert carriers.follows(settings)
        assert not carriers.follows(settings.replace(kafka={"topic_prefix": "other."}))
    finally:
        assert carriers.stop() is True
    assert not carriers.status().running
