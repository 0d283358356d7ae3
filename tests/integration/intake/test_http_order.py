"""A Shopify-shaped web order posted over HTTP, signed with the web channel's key, ends
as a placed order, on the real broker: HTTP 202 -> oms.intake.web -> the web adapter ->
PlaceOrder -> the engine's OrderPlaced. Before, its address (no district: Shopify has no
such field) passed the intake and was dead-lettered by the order aggregate as
address.invalid."""

from __future__ import annotations

import threading
import uuid

import psycopg
from fastapi.testclient import TestClient
from psycopg import sql

from oms_events import topics
from oms_events.api.channel_keys import add_key, signed_headers
from oms_events.api.services import Services
from oms_events.avro.codec import SingleObjectCodec
from oms_events.engine.runner import Engine
from oms_events.intake.adapter import ChannelAdapter
from oms_events.intake.dedup import DedupIndex
from oms_events.intake.http import KafkaPublisher, create_app
from oms_events.intake.processor import IntakeProcessor
from oms_events.payments.notify import Notifications
from oms_events.settings import Settings
from tests.integration.engine.harness import engine_settings, light, read_events, read_topic
from tests.integration.intake.conftest import FIXTURES, wait_for
from tests.unit.payments.test_notify import Letters


def test_the_web_fixture_posted_over_http_becomes_a_placed_order(isolated: Settings) -> None:
    settings = light(isolated, partitions=1)
    publisher = KafkaPublisher(settings)
    schema = f"t_{uuid.uuid4().hex[:10]}"
    api = Services.start(settings, schema)
    try:
        key_id, secret = add_key(api.db, "web", by="test")
        app = create_app(
            IntakeProcessor(SingleObjectCodec()),
            publisher,
            DedupIndex(),
            Notifications({}, Letters()),
            api=api,
            channel_keys=True,
        )
        raw = (FIXTURES / "web" / "order_1001.json").read_bytes()
        answer = TestClient(app).post(
            "/channels/web/orders", content=raw, headers=signed_headers(key_id, secret, raw)
        )
    finally:
        publisher.producer.close()
        api.close()
        with psycopg.connect(settings.postgres.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    assert answer.status_code == 202, answer.text
    order_no = answer.json()["order_no"]

    stop = threading.Event()
    adapter = ChannelAdapter(settings, "web", stop=stop)
    thread = threading.Thread(target=adapter.run, daemon=True)
    engine = Engine(engine_settings(settings))
    thread.start()
    engine.start()
    try:

        def placed() -> list[str]:
            return [
                e.payload["order_no"]
                for e in read_events(settings, "order")
                if e.name == "OrderPlaced"
            ]

        wait_for(lambda: order_no in placed(), timeout=90)
    finally:
        stop.set()
        thread.join(timeout=20)
        engine.stop()
    assert not engine.failed()
    assert read_topic(settings, topics.name(settings, topics.DEADLETTER)) == []
