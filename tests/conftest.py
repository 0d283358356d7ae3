"""Shared fixtures: settings isolated per test session."""

from __future__ import annotations

import pytest

from oms_events.settings import Settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The engine's settings as the environment gives them (defaults match `oms dev up`)."""
    return Settings()
