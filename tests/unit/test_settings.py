"""Settings come from OMS_* variables, one section per concern, and cannot be changed
after reading; ``oms config show`` tells where each value came from."""

from __future__ import annotations

import os
import subprocess
import sys

import pydantic
import pytest

from oms_events.settings import Settings


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("OMS_KAFKA_PARTITIONS", "12")
    monkeypatch.setenv("OMS_ENGINE_BATCH_SIZE", "7")
    s = Settings()
    assert s.kafka.bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert s.kafka.partitions == 12
    assert s.engine.batch_size == 7


def test_defaults_match_dev_services() -> None:
    s = Settings()
    assert s.kafka.bootstrap_servers == f"127.0.0.1:{s.dev.kafka_port}"
    assert f":{s.dev.postgres_port}/" in s.postgres.dsn


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(pydantic.ValidationError):
        s.kafka.partitions = 3  # type: ignore[misc]


def test_replace_changes_a_copy_and_validates() -> None:
    s = Settings()
    t = s.replace(kafka={"topic_prefix": "t1."}, engine={"batch_size": 9})
    assert (t.kafka.topic_prefix, t.engine.batch_size) == ("t1.", 9)
    assert t.kafka.bootstrap_servers == s.kafka.bootstrap_servers
    assert s.kafka.topic_prefix != "t1."
    with pytest.raises(pydantic.ValidationError, match="partitions"):
        s.replace(kafka={"partitions": 0})


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_KAFKA_PARTITIONS", "zero")
    with pytest.raises(pydantic.ValidationError, match="partitions"):
        Settings()


def test_every_setting_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_ENGINE_LINGER_MS", "3")
    entries = {e.name: e for e in Settings().entries()}
    assert entries["engine.linger_ms"].variable == "OMS_ENGINE_LINGER_MS"
    assert entries["engine.linger_ms"].source == "environment"
    assert entries["kafka.topic_prefix"].variable == "OMS_KAFKA_TOPIC_PREFIX"
    assert all(e.variable.startswith("OMS_") and e.description for e in entries.values())


def test_config_show_prints_sources_and_masks_the_password() -> None:
    env = {**os.environ, "OMS_ENGINE_BATCH_SIZE": "42"}
    env["OMS_POSTGRES_DSN"] = "postgresql://oms:s3cret@db:5432/oms"
    out = subprocess.run(
        [sys.executable, "-m", "oms_events.cli.main", "config", "show"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert "s3cret" not in out
    assert "postgresql://oms:****@db:5432/oms" in out
    line = next(line for line in out.splitlines() if line.startswith("engine.batch_size"))
    assert "42" in line and "OMS_ENGINE_BATCH_SIZE" in line and "environment" in line


def test_registry_settings_default_to_topic_record_subjects_and_full_transitive() -> None:
    s = Settings()
    assert s.registry.url is None  # no registry: Avro single-object encoding
    assert s.registry.subject_strategy == "topic_record"
    assert s.registry.compatibility == "FULL_TRANSITIVE"


def test_unknown_subject_strategy_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_REGISTRY_SUBJECT_STRATEGY", "topic-name")
    with pytest.raises(pydantic.ValidationError, match="subject_strategy"):
        Settings()
