"""HTTP intake: 202 with our number, 409 on a duplicate, 400 naming the bad field,
413 over the body limit, 503 with Retry-After while Kafka is down; docs without a CDN."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from oms_events.intake.dedup import DedupIndex
from oms_events.intake.http import ChannelName, create_app, openapi_document
from oms_events.intake.processor import IntakeProcessor
from oms_events.kafka.errors import KafkaTimeout
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


class Down:
    """A publisher whose broker does not answer (KafkaPublisher raises KafkaTimeout)."""

    def publish(self, channel: str, key: str | None, raw: bytes) -> None:
        raise KafkaTimeout("no delivery report in 10.0 s")


def small_app(processor: IntakeProcessor, publisher: Any, limit: int = 4096) -> TestClient:
    notifications = Notifications({}, Letters())
    app = create_app(processor, publisher, DedupIndex(), notifications, max_body_bytes=limit)
    return TestClient(app)


def test_a_body_over_the_limit_is_413_and_nothing_is_published(
    processor: IntakeProcessor,
) -> None:
    sent = Recorder()
    client = small_app(processor, sent, limit=4096)
    raw = fixture("web", "order_1001.json")
    assert len(raw) < 4096
    big = raw.replace(b'"name": "#1001"', b'"name": "#1001", "note": "' + b"x" * 5000 + b'"')
    answer = client.post("/channels/web/orders", content=big)
    assert answer.status_code == 413 and answer.json()["code"] == "http.too_large"
    # Chunked, with no length declared: counted as it arrives.
    chunked = client.post("/channels/web/orders", content=iter([big[:3000], big[3000:]]))
    assert chunked.status_code == 413
    assert client.post("/channels/web/orders", content=raw).status_code == 202
    assert len(sent.sent) == 1


@pytest.mark.parametrize(
    "bad",
    [b"\\ud800", b"\\udfff tail", b"\xff\xfe"],
    ids=["lone high surrogate", "lone low surrogate", "not utf-8"],
)
def test_undecodable_text_is_400_unparseable(processor: IntakeProcessor, bad: bytes) -> None:
    client = small_app(processor, Recorder(), limit=65536)
    raw = fixture("web", "order_1001.json").replace("李雷".encode(), bad)
    answer = client.post("/channels/web/orders", content=raw)
    assert answer.status_code == 400 and answer.json()["code"] == "intake.unparseable"


def test_kafka_down_is_503_with_retry_after_and_the_retry_names_the_same_order(
    processor: IntakeProcessor,
) -> None:
    notifications = Notifications({}, Letters())
    seen = DedupIndex()
    sent = Recorder()
    publisher: Any = Down()

    class Switch:
        def publish(self, channel: str, key: str | None, raw: bytes) -> None:
            publisher.publish(channel, key, raw)

    client = TestClient(create_app(processor, Switch(), seen, notifications, retry_after_s=7))
    raw = fixture("web", "order_1001.json")
    down = client.post("/channels/web/orders", content=raw)
    assert down.status_code == 503 and down.headers["retry-after"] == "7"
    assert down.json()["code"] == "http.kafka_unavailable"
    publisher = sent  # the broker is back
    again = client.post("/channels/web/orders", content=raw)
    assert again.status_code == 202 and again.json()["order_no"] == "OMS-web-5712345678901"
    once_more = client.post("/channels/web/orders", content=raw)
    assert once_more.status_code == 409
    assert once_more.json()["order_no"] == "OMS-web-5712345678901"


def test_api_docs_load_no_external_asset(client_and_sent: tuple[TestClient, Recorder]) -> None:
    client, _ = client_and_sent
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets and all(a.startswith("/") for a in assets), assets
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
