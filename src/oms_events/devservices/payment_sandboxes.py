"""The Alipay and WeChat Pay sandboxes as one background process of ``oms dev up``
(``python -m oms_events.payments.sandbox``), files under ``<data_dir>/payments``."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from oms_events.devservices.process import (
    ServiceError,
    await_ready,
    port_open,
    read_pid,
    spawn,
    stop_pid,
)
from oms_events.payments.providers import alipay_url, wechatpay_url
from oms_events.settings import Settings


@dataclass(frozen=True)
class SandboxStatus:
    """What ``oms dev status`` shows for the payment sandboxes."""

    running: bool
    pid: int | None
    alipay_url: str
    wechatpay_url: str
    log: Path


class PaymentSandboxes:
    """The sandbox process: its pid file, log and ports."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.dev.data_dir / "payments"
        self.pid_file = self.home / "sandbox.pid"
        self.log = self.home / "logs" / "sandbox.log"
        self.ports = {
            "OMS_PAYMENTS_ALIPAY_PORT": settings.payments.alipay_port,
            "OMS_PAYMENTS_WECHATPAY_PORT": settings.payments.wechatpay_port,
        }

    def pid(self) -> int | None:
        """The sandbox process's pid when it runs."""
        return read_pid(self.pid_file, "oms_events.payments.sandbox")

    def _serving(self) -> bool:
        return all(port_open(port) for port in self.ports.values())

    def start(self, timeout: float = 30.0) -> bool:
        """Start both sandboxes unless they run; True if they were started."""
        running = self.pid()
        if running is not None:
            # Running, perhaps busy: wait for it rather than start a second one that
            # cannot bind the ports.
            self._await_serving(running, timeout)
            return False
        for variable, port in self.ports.items():
            if port_open(port):
                raise ServiceError(
                    f"port {port} is taken by another program; stop it or set {variable}"
                )
        self.home.mkdir(parents=True, exist_ok=True)
        # The child reads the same settings: pass ours, including any replaced in a test.
        env = {
            **os.environ,
            "OMS_DEV_DATA_DIR": str(self.settings.dev.data_dir),
            **{variable: str(port) for variable, port in self.ports.items()},
            "OMS_PAYMENTS_ALIPAY_APP_ID": self.settings.payments.alipay_app_id,
            "OMS_PAYMENTS_WECHATPAY_MCHID": self.settings.payments.wechatpay_mchid,
        }
        if self.settings.payments.keys_dir:
            env["OMS_PAYMENTS_KEYS_DIR"] = str(self.settings.payments.keys_dir)
        pid = spawn(
            [sys.executable, "-m", "oms_events.payments.sandbox"], self.log, self.pid_file, env=env
        )
        self._await_serving(pid, timeout)
        return True

    def _await_serving(self, pid: int, timeout: float) -> None:
        await_ready(
            "the payment sandboxes",
            pid,
            lambda: self.pid() is not None,
            self._serving,
            "serve",
            self.log,
            timeout,
        )

    def stop(self) -> bool:
        """Stop the sandboxes (their trades are in memory and go). True if they ran."""
        pid = self.pid()
        if pid is None:
            return False
        stop_pid(pid, timeout=10)
        self.pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> SandboxStatus:
        """Whether they run, and where."""
        pid = self.pid()
        return SandboxStatus(
            running=pid is not None and self._serving(),
            pid=pid,
            alipay_url=alipay_url(self.settings),
            wechatpay_url=wechatpay_url(self.settings),
            log=self.log,
        )
