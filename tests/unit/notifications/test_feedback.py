"""Channel feedback in each platform's own shape (tests/fixtures/feedback/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oms_events import topics
from oms_events.notifications.feedback import SHAPES, Shipped, shipping_message

FIXTURES = Path(__file__).parents[2] / "fixtures" / "feedback"
SHIPPED = Shipped("3876512345678", "SF", "SF1234567890123")


def test_every_feedback_channel_has_a_shape_and_a_topic() -> None:
    assert set(SHAPES) == set(topics.SHIPPING_FEEDBACK_CHANNELS)


@pytest.mark.parametrize("channel", topics.SHIPPING_FEEDBACK_CHANNELS)
def test_ship_call_matches_the_fixture(channel: str) -> None:
    expected = json.loads((FIXTURES / f"{channel}.json").read_text())
    assert shipping_message(channel, SHIPPED) == expected


def test_unknown_carriers_fall_back_to_the_platforms_other() -> None:
    other = Shipped("1", "ACME", "A1")
    assert shipping_message("tmall", other)["params"]["company_code"] == "OTHER"  # type: ignore[index]
    assert shipping_message("pos", other) is None  # a till is not told
