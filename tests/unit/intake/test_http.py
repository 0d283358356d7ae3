"""HTTP intake: 202 with our number, 409 on a duplicate, 400 naming the bad field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from oms_events.intake.dedup import DedupIndex
from oms_events.intake.http import ChannelName, create_app, openapi_document
from oms_events.intake.processor import IntakeProcessor
from oms_events.payments.notify import Notifications
from oms_events.topics import CHANNELS
from tests.unit.intake.conftest import fixture
from tests.unit.payments.test_notify import Letters

DOCS = Path(__file__).parents[3] / "docs" / "openapi.json"


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str | None, bytes]] = []

    def publish(self, channel: str, key: str | None, raw: bytes) -> None:
        self.sent.append((channel, key, raw))


@pytest.fixture
def client_and_sent(processor: IntakeProcessor) -> tuple[TestClient, Recorder]:
    sent = Recorder()
    notifications = Notifications({}, Letters())
    return TestClient(create_app(processor, sent, DedupIndex(), notifications)), sent


def test_accepts_publishes_raw_and_answers_with_our_number(
    client_and_sent: tuple[TestClient, Recorder],
) -> None:
    client, sent = client_and_sent
    raw = fixture("web", "order_1001.json")
    response = client.post(
        "/channels/web/orders", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 202
    assert response.json()["order_no"] == "OMS-web-5712345678901"
    assert sent.sent == [("web", "5712345678901", raw)]


def test_duplicate_is_409_with_the_existing_number(
    client_and_sent: tuple[TestClient, Recorder],
) -> None:
    client, sent = client_and_sent
    raw = fixture("jd", "order_281234567890.xml")
    assert client.post("/channels/jd/orders", content=raw).status_code == 202
    again = client.post("/channels/jd/orders", content=raw)
    assert again.status_code == 409 and again.json()["order_no"] == "OMS-jd-281234567890"
    changed = client.post(
        "/channels/jd/orders", content=fixture("jd", "order_281234567890_changed.xml")
    )
    assert changed.status_code == 202  # a change goes through; the adapter decides
    assert len(sent.sent) == 2


def test_a_cancellation_is_accepted_once_like_an_order(
    client_and_sent: tuple[TestClient, Recorder],
) -> None:
    client, sent = client_and_sent
    raw = fixture("web", "order_1001_cancelled.json")
    first = client.post("/channels/web/orders", content=raw)
    assert first.status_code == 202 and first.json()["order_no"] == "OMS-web-5712345678901"
    assert client.post("/channels/web/orders", content=raw).status_code == 409
    assert sent.sent == [("web", "5712345678901", raw)]


def test_bad_delivery_is_400_naming_the_field_and_nothing_is_published(
    client_and_sent: tuple[TestClient, Recorder],
) -> None:
    client, sent = client_and_sent
    response = client.post("/channels/tmall/orders", content=fixture("tmall", "bad_phone.json"))
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["field"]) == ("intake.bad_phone", "receiver_mobile")
    assert "电话" in body["message_zh"]
    batch = client.post(
        "/channels/pos/orders", content=fixture("pos", "batch_S003_mixed_gb18030.csv")
    )
    assert batch.status_code == 400 and batch.json()["problems"] == 4
    assert sent.sent == []


def test_unknown_channel_is_refused(client_and_sent: tuple[TestClient, Recorder]) -> None:
    client, _ = client_and_sent
    assert client.post("/channels/amazon/orders", content=b"{}").status_code == 422


def test_channel_enum_matches_the_registry() -> None:
    assert [c.value for c in ChannelName] == list(CHANNELS)


def test_served_openapi_document_is_the_one_in_the_repo(
    client_and_sent: tuple[TestClient, Recorder],
) -> None:
    client, _ = client_and_sent
    served = client.get("/openapi.json").json()
    assert served == openapi_document()
    assert json.loads(DOCS.read_text()) == served, (
        "docs/openapi.json is stale: python -m oms_events.intake.http > docs/openapi.json"
    )
