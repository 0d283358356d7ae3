"""Settings come from OMS_* variables and cannot be changed after reading."""

from __future__ import annotations

import pydantic
import pytest

from oms_events.settings import Settings


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("OMS_PARTITIONS", "12")
    s = Settings()
    assert s.bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert s.partitions == 12


def test_defaults_match_dev_services() -> None:
    s = Settings()
    assert s.bootstrap_servers == f"127.0.0.1:{s.kafka_port}"
    assert f":{s.postgres_port}/" in s.postgres_dsn


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(pydantic.ValidationError):
        s.partitions = 3  # type: ignore[misc]


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_PARTITIONS", "zero")
    with pytest.raises(pydantic.ValidationError, match="partitions"):
        Settings()


def test_registry_settings_default_to_topic_record_subjects_and_full_transitive() -> None:
    s = Settings()
    assert s.registry.url is None  # no registry: Avro single-object encoding
    assert s.registry.subject_strategy == "topic_record"
    assert s.registry.compatibility == "FULL_TRANSITIVE"


def test_unknown_subject_strategy_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_REGISTRY_SUBJECT_STRATEGY", "topic-name")
    with pytest.raises(pydantic.ValidationError, match="subject_strategy"):
        Settings()
