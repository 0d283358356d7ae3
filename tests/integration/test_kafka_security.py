"""Kafka refuses whom it does not know, and each principal may do only what its ACLs
allow: on the dev broker `oms dev up` started (SASL/SCRAM-SHA-512, StandardAuthorizer,
nothing allowed without a rule), through both client implementations."""

from __future__ import annotations

import stat
import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from oms_events import topics
from oms_events.devservices.kafka_broker import KafkaBroker
from oms_events.engine.runner import Engine
from oms_events.kafka.acls import apply_acls
from oms_events.kafka.admin import apply_topics
from oms_events.kafka.connection import clients
from oms_events.kafka.errors import KafkaError
from oms_events.kafka.port import Clients, Producer, TopicPartition
from oms_events.kafka.security import credentials_path
from oms_events.settings import Settings
from tests.integration.conftest import drop_topics
from tests.integration.engine.harness import (
    engine_settings,
    order_outcomes,
    place_order,
    receive,
    send,
    wait_for,
)

# One prefix for every run: its ACL rules are written again, not added again, so the
# broker's ACLs do not grow with each run as a fresh prefix's would.
PREFIX = "tacl."


@pytest.fixture(scope="module")
def secured(dev_services: Settings) -> Iterator[Settings]:
    """The registry's topics under :data:`PREFIX` and their ACLs, as the admin."""
    settings = dev_services.replace(kafka={"topic_prefix": PREFIX, "partitions": 1})
    apply_topics(settings)
    assert apply_acls(settings)
    # In effect once a principal they allow is let through (see allowed_at_last).
    warehouse = as_user(settings, "warehouse", "confluent")
    allowed_at_last(warehouse, PREFIX + topics.WAREHOUSE_UPDATES).close()
    yield settings
    drop_topics(settings)


def as_user(settings: Settings, user: str, client: str) -> Clients:
    """Clients of one implementation authenticated as ``user`` (password from the dev
    credentials file)."""
    return clients(settings.replace(kafka={"username": user, "password": "", "client": client}))


def test_a_client_without_credentials_is_refused(dev_services: Settings) -> None:
    plain = AdminClient(
        {
            "bootstrap.servers": dev_services.kafka.bootstrap_servers,
            "security.protocol": "plaintext",
        }
    )
    with pytest.raises(KafkaException):
        plain.list_topics(timeout=3)
    wrong = AdminClient(
        {
            "bootstrap.servers": dev_services.kafka.bootstrap_servers,
            "security.protocol": "sasl_plaintext",
            "sasl.mechanisms": "SCRAM-SHA-512",
            "sasl.username": "admin",
            "sasl.password": "guessed",
        }
    )
    with pytest.raises(KafkaException):
        wrong.list_topics(timeout=3)


def test_the_credentials_and_the_broker_configuration_are_private(
    dev_services: Settings,
) -> None:
    for path in (
        credentials_path(dev_services),
        KafkaBroker(dev_services).home / "server.properties",
    ):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def allowed_at_last(clients_of: Clients, topic: str) -> Producer:
    """A producer that wrote one record to ``topic``: the broker applies new ACLs a
    moment after CreateAcls answers (it replays the metadata record), so the first
    allowed write may still be refused (a clean-clone CI run was). A fresh producer
    each try: a refused client may keep the topic's refusal until its metadata ages."""
    deadline = time.monotonic() + 30
    while True:
        p = clients_of.producer()
        try:
            p.send(topic, b"packed", key=b"shipment-1").get(10)
            return p
        except KafkaError as exc:
            p.close()
            if "AUTHORIZATION" not in str(exc).upper() or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_the_warehouse_writes_its_updates_but_not_order_commands(
    secured: Settings, client: str
) -> None:
    p = as_user(secured, "warehouse", client).producer()
    try:
        p.send(PREFIX + topics.WAREHOUSE_UPDATES, b"packed", key=b"shipment-1").get(10)
        with pytest.raises(KafkaError, match=r"TOPIC_AUTHORIZATION_FAILED|TopicAuthorization"):
            p.send(PREFIX + topics.commands("order"), b"cancel", key=b"order-1").get(10)
    finally:
        p.close()


def test_the_api_writes_commands_and_channel_input_but_never_an_event(secured: Settings) -> None:
    """The HTTP server's user (`oms channel serve` runs as api): a compromised API may
    send commands or orders, each checked by the engine, but cannot forge history."""
    p = as_user(secured, "api", "confluent").producer()
    try:
        for base in (topics.commands("payment"), topics.intake("web"), topics.DEADLETTER):
            p.send(PREFIX + base, b"probe", key=b"order-1").get(10)
        with pytest.raises(KafkaError, match=r"TOPIC_AUTHORIZATION_FAILED"):
            p.send(PREFIX + topics.events("order"), b"forged", key=b"order-1").get(10)
    finally:
        p.close()


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_the_analyst_reads_but_cannot_produce_anywhere(secured: Settings, client: str) -> None:
    analyst = as_user(secured, "analyst", client)
    names = [
        PREFIX + n for n in (topics.WAREHOUSE_UPDATES, topics.DEADLETTER, topics.events("order"))
    ]
    parts = [TopicPartition(n, 0) for n in names]
    before = ends(clients(secured), parts)
    for name in names:
        # Refused its producer id (a user allowed to write no topic: cluster
        # authorization failed) or the topic: either way the send fails.
        p = analyst.producer()
        try:
            with pytest.raises(KafkaError):
                p.send(name, b"v", key=b"k").get(10)
        finally:
            p.close()
    assert ends(clients(secured), parts) == before  # nothing was written
    assert ends(analyst, parts) == before  # and reading is allowed


def ends(kafka: Clients, parts: list[TopicPartition]) -> dict[TopicPartition, int]:
    """The log-end offsets of ``parts``, as the user of ``kafka``."""
    c = kafka.consumer(fetch_max_wait_ms=10)
    try:
        c.assign(parts)
        return c.end_offsets(parts, stable=False)
    finally:
        c.close()


def test_the_engine_decides_orders_as_its_own_principal(secured: Settings) -> None:
    """The engine's ACLs are enough for the engine: processors in their group, their
    transactional ids, commands in, events and allocations out; intake places the
    order as itself."""
    receive(secured, {("TEA", "SH"): 1})
    engine = Engine(engine_settings(secured.replace(kafka={"username": "engine", "password": ""})))
    engine.start()
    try:
        assert wait_for(lambda: engine.stock.available("TEA", "SH") == 1, 60, 0.2)
        intake = secured.replace(kafka={"username": "intake", "password": ""})
        send(intake, [place_order(f"ACL{uuid.uuid4().hex[:8]}", "TEA")])
        assert wait_for(lambda: "OrderAllocated" in order_outcomes(secured).values(), 60, 0.2)
    finally:
        engine.stop()
    assert not engine.failed()
