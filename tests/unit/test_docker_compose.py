"""docker-compose.yml is valid and publishes the ports that `oms dev up` defaults to."""

from __future__ import annotations

import subprocess
from pathlib import Path

from oms_events.settings import DevSettings

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_is_accepted_and_matches_dev_defaults() -> None:
    # Debian's docker-compose validates and normalizes the file without a Docker engine.
    out = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # The compose file serves the defaults, whatever this shell's OMS_* variables say.
    s = DevSettings.model_construct()
    assert f"published: {s.kafka_port}" in out
    assert f"published: {s.postgres_port}" in out
    for service in ("  kafka:", "  postgres:", "  engine:"):
        assert service in out
