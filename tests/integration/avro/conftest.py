"""Readers and a registry we did not write: Apache Avro for Java, Apicurio Registry."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from oms_events.settings import Settings
from tests.integration.avro.java_reader import classpath
from tests.integration.avro.registry_server import RegistryServer, build


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start building the registry as the session starts when a test will use it: the
    build (about 2 min on a fresh machine, mostly Maven waiting on downloads) then runs
    beside the other tests instead of holding a worker (the fixture waits for it)."""
    if any("registry_url" in getattr(item, "fixturenames", ()) for item in session.items):
        data_dir = Settings().dev.data_dir
        threading.Thread(target=build, args=(data_dir,), name="registry-build", daemon=True).start()


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
