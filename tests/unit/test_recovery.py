"""The waits between reconnection attempts double up to the cap and start over after a
success; a stop request cuts a wait short."""

from __future__ import annotations

from oms_events.recovery import Backoff
from oms_events.settings import RecoverySettings


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
