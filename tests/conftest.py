"""Shared fixtures: settings isolated per test session."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from oms_events.settings import Settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The engine's settings as the environment gives them (defaults match `oms dev up`)."""
    return Settings()


@pytest.fixture(autouse=True)
def _no_client_outlives_its_test() -> Iterator[None]:
    """The engine harness's progress gauge keeps one Kafka consumer per test: closed here,
    so it never reconnects to a broker the test stopped while later tests run."""
    yield
    harness = sys.modules.get("tests.integration.engine.harness")
    if harness is not None:
        harness.release_gauge()
