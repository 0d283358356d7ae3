"""Fixtures of the event store tests: isolated topics, removed again after each test."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from oms_events.kafka.connection import admin
from oms_events.settings import Settings


def drop_topics(settings: Settings) -> None:
    """Delete every topic carrying this test's prefix (keeps the shared broker lean)."""
    client = admin(settings)
    try:
        names = [n for n in client.list_topics() if n.startswith(settings.topic_prefix)]
        if names:
            with contextlib.suppress(Exception):
                client.delete_topics(names)
    finally:
        client.close()


@pytest.fixture
def store_settings(isolated: Settings) -> Iterator[Settings]:
    """Isolated settings with 2 partitions per topic (multi-partition, yet cheap)."""
    settings = isolated.model_copy(update={"partitions": 2})
    yield settings
    drop_topics(settings)
