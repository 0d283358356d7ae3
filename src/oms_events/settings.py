"""The engine's settings: one frozen object read from ``OMS_*`` environment variables.

Defaults match what ``oms dev up`` starts, so a fresh machine needs no configuration.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """Where ``oms dev up`` keeps Kafka's and PostgreSQL's data and logs.

    Root gets a folder outside /root because PostgreSQL refuses to run as root and
    its own system user cannot traverse /root.
    """
    if os.geteuid() == 0:
        return Path("/var/lib/oms-events")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "oms-events"


class RegistrySettings(BaseSettings):
    """The Confluent-compatible schema registry, read from ``OMS_REGISTRY_*``."""

    model_config = SettingsConfigDict(env_prefix="OMS_REGISTRY_", frozen=True, extra="ignore")

    url: str | None = Field(
        None,
        description="Confluent-compatible schema registry; when set, Avro uses the Confluent "
        "wire format (magic byte + schema id), otherwise Avro single-object encoding",
    )
    subject_strategy: Literal["topic_record", "record", "topic"] = Field(
        "topic_record",
        description="Subject of a schema: 'topic_record' = <topic>-<record full name> "
        "(several record types per topic, tools find them by topic), 'record' = <record full "
        "name>, 'topic' = <topic>-value (only for topics that carry one record type)",
    )
    compatibility: str = Field(
        "FULL_TRANSITIVE",
        description="Compatibility level set on every subject the engine registers "
        "(what `oms schemas check` enforces against schemas/released/)",
    )


class Settings(BaseSettings):
    """All settings of the engine; each field is read from the environment variable
    named ``OMS_<FIELD>`` (for example ``OMS_BOOTSTRAP_SERVERS``)."""

    model_config = SettingsConfigDict(env_prefix="OMS_", frozen=True, extra="ignore")

    bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port"
    )
    postgres_dsn: str = Field(
        "postgresql://oms:oms@127.0.0.1:55432/oms",
        description="PostgreSQL connection string of the projections database",
    )
    partitions: int = Field(
        6, ge=1, description="Partitions of every command and event topic (same count for all)"
    )
    replication_factor: int = Field(1, ge=1, description="Replication factor of new topics")
    registry: RegistrySettings = Field(
        default_factory=RegistrySettings, description="Schema registry (OMS_REGISTRY_*)"
    )
    topic_prefix: str = Field(
        "",
        description="Prefix for every topic name (isolates test runs or tenants on one cluster)",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Folder of `oms dev up`: Kafka and PostgreSQL data, logs, Maven-resolved jars",
    )
    kafka_version: str = Field("4.1.1", description="Apache Kafka broker version `oms dev up` runs")
    kafka_port: int = Field(9092, description="Loopback port of the dev Kafka broker")
    kafka_controller_port: int = Field(9093, description="Loopback port of the KRaft controller")
    postgres_port: int = Field(55432, description="Loopback port of the dev PostgreSQL server")
    log_format: str = Field(
        "auto", description="Log output: 'json', 'console', or 'auto' (console on a terminal)"
    )
    log_level: str = Field("info", description="Minimum log level")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
