"""Which user a Kafka client is, and what each service principal may do: rules read
from settings, the dev credentials file and the topic registry."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from oms_events import topics
from oms_events.kafka.acls import GROUPLESS, acl_rules
from oms_events.kafka.security import (
    PRINCIPALS,
    KafkaCredentialsError,
    as_service,
    client_security,
    credentials_path,
    ensure_credentials,
)
from oms_events.settings import Settings


@pytest.fixture
def dev(tmp_path: Path) -> Settings:
    """Settings of a dev data dir whose credentials ``oms dev up`` generated."""
    s = Settings().replace(
        dev={"data_dir": tmp_path}, kafka={"bootstrap_servers": "127.0.0.1:9092"}
    )
    ensure_credentials(credentials_path(s))
    return s


def test_credentials_are_generated_once_per_principal_and_private(dev: Settings) -> None:
    path = credentials_path(dev)
    first = ensure_credentials(path)
    assert set(first) == set(PRINCIPALS)
    assert len(set(first.values())) == len(PRINCIPALS)  # a password each
    assert ensure_credentials(path) == first  # kept across `oms dev up`
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_dev_services_default_to_the_admin_and_fill_a_named_users_password(
    dev: Settings,
) -> None:
    passwords = ensure_credentials(credentials_path(dev))
    admin = client_security(dev)
    assert (admin.protocol, admin.username, admin.password) == (
        "SASL_PLAINTEXT",
        "admin",
        passwords["admin"],
    )
    assert admin.librdkafka()["sasl.mechanisms"] == "SCRAM-SHA-512"
    warehouse = client_security(dev.replace(kafka={"username": "warehouse"}))
    assert warehouse.password == passwords["warehouse"]
    assert warehouse.kafka_python()["sasl_plain_username"] == "warehouse"


def test_each_long_running_service_is_its_own_principal_unless_a_user_is_named(
    dev: Settings, tmp_path: Path
) -> None:
    passwords = ensure_credentials(credentials_path(dev))
    engine = client_security(as_service(dev, "engine"))
    assert (engine.username, engine.password) == ("engine", passwords["engine"])
    # OMS_KAFKA_USERNAME wins: an operator may run the engine as any principal.
    named = dev.replace(kafka={"username": "admin"})
    assert client_security(as_service(named, "engine")).username == "admin"
    # No dev credentials (another cluster, PLAINTEXT): left as configured.
    bare = dev.replace(dev={"data_dir": tmp_path / "none"})
    assert as_service(bare, "engine") == bare
    plain = dev.replace(kafka={"security_protocol": "PLAINTEXT"})
    assert client_security(as_service(plain, "engine")).sasl is False
    remote = dev.replace(kafka={"bootstrap_servers": "kafka-1.example.com:9092"})
    assert as_service(remote, "engine") == remote


def test_the_environment_wins_and_dev_credentials_stay_on_loopback(dev: Settings) -> None:
    own = client_security(dev.replace(kafka={"username": "engine", "password": "pw"}))
    assert (own.username, own.password) == ("engine", "pw")
    remote = client_security(dev.replace(kafka={"bootstrap_servers": "kafka-1:9092"}))
    assert (remote.protocol, remote.username) == ("PLAINTEXT", "")
    assert client_security(dev.replace(kafka={"security_protocol": "PLAINTEXT"})).username == ""
    with pytest.raises(KafkaCredentialsError, match="OMS_KAFKA_PASSWORD"):
        client_security(dev.replace(kafka={"bootstrap_servers": "kafka-1:9092", "username": "x"}))
    with pytest.raises(KafkaCredentialsError, match="not a principal"):
        client_security(dev.replace(kafka={"username": "mallory"}))


def _allowed(settings: Settings, principal: str, operation: str) -> set[str]:
    return {
        r.name
        for r in acl_rules(settings)
        if r.principal == principal and r.resource == "topic" and r.operation == operation
    }


def test_the_warehouse_reads_allocations_and_writes_only_its_updates() -> None:
    s = Settings().replace(kafka={"topic_prefix": "t1."})
    assert _allowed(s, "warehouse", "read") == {"t1." + topics.ALLOCATIONS}
    assert _allowed(s, "warehouse", "write") == {"t1." + topics.WAREHOUSE_UPDATES}


def test_the_analyst_reads_every_topic_and_writes_none() -> None:
    s = Settings()
    assert _allowed(s, "analyst", "read") == {spec.name for spec in topics.registry(s)}
    assert _allowed(s, "analyst", "write") == set()
    assert not [r for r in acl_rules(s) if r.principal == "analyst" and r.operation != "read"]


def test_intake_the_api_and_the_engine_write_commands_and_only_the_engine_events() -> None:
    s = Settings()
    commands = {topics.commands(t) for t in topics.AGGREGATE_TYPES}
    events = {topics.events(t) for t in topics.AGGREGATE_TYPES}
    writers = {p for p in PRINCIPALS if commands & _allowed(s, p, "write")}
    # The HTTP server (api) sends the operator's and the payment providers' commands.
    assert writers == {"engine", "intake", "api"}
    assert {p for p in PRINCIPALS if events & _allowed(s, p, "write")} == {"engine"}


def test_the_api_reads_everything_and_joins_no_group_nor_transaction() -> None:
    s = Settings()
    assert _allowed(s, "api", "read") == {spec.name for spec in topics.registry(s)}
    held = {(r.resource, r.name) for r in acl_rules(s) if r.principal == "api"}
    assert {name for kind, name in held if kind != "topic"} == {GROUPLESS}
