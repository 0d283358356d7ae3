"""The domain is pure: importing it loads no Kafka, PostgreSQL or Avro library."""

from __future__ import annotations

from tests.fresh_import import top_level_modules_loaded_by

FORBIDDEN = ("kafka", "psycopg", "psycopg_pool", "fastavro", "confluent_kafka")


def test_importing_the_domain_loads_no_infrastructure() -> None:
    loaded = top_level_modules_loaded_by("oms_events.domain")
    assert "oms_events" in loaded  # the probe really imported the domain
    assert loaded.isdisjoint(FORBIDDEN), loaded & set(FORBIDDEN)
