"""Waiting out an outage: capped exponential backoff, said in the log.

A process that loses Kafka or PostgreSQL does not exit (nothing would restart it, and a
restart would find the same outage): it logs ``waiting for Kafka`` or ``waiting for
PostgreSQL`` with the error and the next wait, sleeps 0.5 s, 1 s, 2 s … up to
``recovery.max_backoff_s``, and tries again; with a :class:`~oms_events.waits.WaitBoard`
it also says so where ``oms status`` reads it. Exactly-once is kept by what each process
resumes from, never by the waiting: the projections re-read the offsets committed with
their rows, the engine and intake rebuild from their committed Kafka transaction.
Only SIGTERM (``stop``) or a configuration error ends them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from oms_events.settings import RecoverySettings
from oms_events.waits import WaitBoard

log = structlog.get_logger("oms.recovery")


class Backoff:
    """The waits between attempts to reach one service again; ``waiting_for`` names the
    service being waited for (None while all is well)."""

    def __init__(
        self,
        settings: RecoverySettings,
        stop: Callable[[], bool] = lambda: False,
        board: WaitBoard | None = None,
    ):
        self.initial = settings.initial_backoff_s
        self.cap = settings.max_backoff_s
        self.stop = stop
        self.board = board
        self.failures = 0
        self.waiting_for: str | None = None

    def next_delay(self) -> float:
        """The wait before the next attempt: doubled per failure, at most the cap."""
        return float(min(self.cap, self.initial * 2 ** min(self.failures, 32)))

    def wait(self, what: str, error: BaseException) -> None:
        """Log ``waiting for <what>`` and sleep the next delay (less if ``stop`` turns true)."""
        delay = self.next_delay()
        self.failures += 1
        self.waiting_for = what
        said = f"{type(error).__name__}: {str(error).strip()[:300]}"
        log.warning(
            f"waiting for {what}", error=said, attempt=self.failures, retry_in_s=round(delay, 2)
        )
        if self.board is not None:
            self.board.waiting(what, self.failures, said)
        deadline = time.monotonic() + delay
        while not self.stop() and time.monotonic() < deadline:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    def recovered(self) -> None:
        """An attempt succeeded: log it once after an outage and start over at the first delay."""
        if self.failures:
            log.info(f"{self.waiting_for} is back", attempts=self.failures)
            if self.board is not None:
                self.board.back()
        self.failures = 0
        self.waiting_for = None
