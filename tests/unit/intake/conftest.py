"""Shared helpers for the intake unit tests: fixtures on disk and a processor."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from oms_events.avro.codec import SingleObjectCodec
from oms_events.intake.processor import IntakeProcessor
from oms_events.intake.tables import Tables

FIXTURES = Path(__file__).parents[2] / "fixtures" / "channels"


def fixture(channel: str, name: str) -> bytes:
    """The bytes of one channel fixture."""
    return (FIXTURES / channel / name).read_bytes()


@pytest.fixture(scope="session")
def tables() -> Tables:
    return Tables.load()


@pytest.fixture
def processor(tables: Tables) -> IntakeProcessor:
    return IntakeProcessor(
        SingleObjectCodec(), tables, clock=lambda: datetime(2024, 6, 20, tzinfo=UTC)
    )
