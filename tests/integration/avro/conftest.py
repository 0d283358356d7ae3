"""Readers and a registry we did not write: Apache Avro for Java, Apicurio Registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oms_events.settings import Settings
from tests.integration.avro.java_reader import classpath
from tests.integration.avro.registry_server import RegistryServer, build


@pytest.fixture(scope="session")
def registry_url(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Confluent API of a registry started for this test session."""
    server = RegistryServer(
        build(settings.dev.data_dir), tmp_path_factory.mktemp("registry") / "log"
    )
    try:
        server.wait_ready()
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def java_classpath(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Apache Avro for Java's jars (Maven Central, resolved into ~/.m2)."""
    return classpath(tmp_path_factory.mktemp("java"))
