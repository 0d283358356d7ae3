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
