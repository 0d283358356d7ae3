"""The carrier simulator as a background process of ``oms dev up``
(``python -m oms_events.carriersim``), files under ``<data_dir>/carriers``."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from oms_events.devservices.process import (
    await_ready,
    read_pid,
    spawn,
    stop_pid,
)
from oms_events.kafka.security import environment as kafka_environment
from oms_events.settings import Settings


def status_file(settings: Settings) -> Path:
    """Where the running simulator says which topics it follows (written once it does)."""
    return settings.dev.data_dir / "carriers" / "simulator.json"


@dataclass(frozen=True)
class CarrierSimStatus:
    """What ``oms dev status`` shows for the carrier simulator."""

    running: bool
    pid: int | None
    topic_prefix: str | None  # the prefix it follows, once it follows
    time_scale: float | None
    log: Path


class CarrierSimulatorProcess:
    """The simulator process: its pid file, status file and log."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.dev.data_dir / "carriers"
        self.pid_file = self.home / "simulator.pid"
        self.log = self.home / "logs" / "simulator.log"
        self.state = status_file(settings)

    def pid(self) -> int | None:
        """The simulator's pid when it runs."""
        return read_pid(self.pid_file, "oms_events.carriersim")

    def _following(self, pid: int) -> dict[str, object] | None:
        try:
            state = json.loads(self.state.read_text())
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) and state.get("pid") == pid else None

    def start(self, timeout: float = 60.0) -> bool:
        """Start the simulator unless it runs; True if it was started."""
        running = self.pid()
        if running is not None:
            # Running, perhaps still starting: wait for it rather than start a second
            # simulator on the same topics.
            self._await_following(running, timeout)
            return False
        self.home.mkdir(parents=True, exist_ok=True)
        self.state.unlink(missing_ok=True)
        # The child reads the same settings: pass ours, including any replaced in a test.
        s = self.settings
        env = {
            **os.environ,
            "OMS_DEV_DATA_DIR": str(s.dev.data_dir),
            "OMS_KAFKA_BOOTSTRAP_SERVERS": s.kafka.bootstrap_servers,
            "OMS_KAFKA_TOPIC_PREFIX": s.kafka.topic_prefix,
            "OMS_KAFKA_PARTITIONS": str(s.kafka.partitions),
            **kafka_environment(s),
            "OMS_LOG_FORMAT": "json",
            # It reads customers' names from OrderPlaced: the same key store and master key.
            "OMS_POSTGRES_DSN": s.postgres.dsn,
            "OMS_POSTGRES_MIGRATOR_DSN": s.postgres.migrator_dsn,
            "OMS_PRIVACY_SCHEMA_NAME": s.privacy.schema_name,
            "OMS_PRIVACY_MASTER_KEY_FILE": s.privacy.master_key_file,
            **{
                f"OMS_CARRIERSIM_{name.upper()}": str(value)
                for name, value in s.carriersim.model_dump().items()
                if value is not None
            },
        }
        pid = spawn(
            [sys.executable, "-m", "oms_events.carriersim"], self.log, self.pid_file, env=env
        )
        self._await_following(pid, timeout)
        return True

    def _await_following(self, pid: int, timeout: float) -> None:
        await_ready(
            "the carrier simulator",
            pid,
            lambda: self.pid() is not None,
            lambda: self._following(pid) is not None,
            "follow its topics",
            self.log,
            timeout,
        )

    def stop(self) -> bool:
        """Stop the simulator (parcels on the road are forgotten). True if it ran."""
        pid = self.pid()
        if pid is None:
            return False
        stop_pid(pid, timeout=15)
        self.pid_file.unlink(missing_ok=True)
        self.state.unlink(missing_ok=True)
        return True

    def status(self) -> CarrierSimStatus:
        """Whether it runs, and which topics it follows."""
        pid = self.pid()
        state = self._following(pid) if pid is not None else None
        prefix = state.get("topic_prefix") if state else None
        scale = state.get("time_scale") if state else None
        return CarrierSimStatus(
            running=state is not None,
            pid=pid,
            topic_prefix=prefix if isinstance(prefix, str) else None,
            time_scale=float(scale) if isinstance(scale, int | float) else None,
            log=self.log,
        )

    def follows(self, settings: Settings) -> bool:
        """True when a running simulator follows the topics of ``settings`` (same broker
        and prefix): then ``oms simulate`` needs no carrier of its own."""
        pid = self.pid()
        state = self._following(pid) if pid is not None else None
        return bool(
            state
            and state.get("topic_prefix") == settings.kafka.topic_prefix
            and state.get("bootstrap_servers") == settings.kafka.bootstrap_servers
        )
