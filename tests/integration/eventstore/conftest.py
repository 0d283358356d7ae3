"""Fixtures of the event store tests: isolated topics, removed again after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oms_events.settings import Settings


@pytest.fixture
def store_settings(isolated: Settings) -> Iterator[Settings]:
    """Isolated settings with 2 partitions per topic (multi-partition, yet cheap)."""
    # `isolated` deletes the prefix's topics after the test.
    yield isolated.replace(kafka={"partitions": 2})
