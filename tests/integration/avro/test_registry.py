"""The registry codec against a real Confluent-compatible registry (Apicurio, in memory).

Records it writes are read by Confluent's own Python deserializer; subjects follow the
configured strategy and carry FULL_TRANSITIVE; a refused schema is one clear error.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from fastavro import json_reader

from oms_events import topics
from oms_events.avro.catalog import Catalog
from oms_events.avro.codec import ConfluentCodec, DecodeError
from oms_events.avro.registry import RegistryRefused, SchemaRegistry
from oms_events.cli.demo import PLACE_ORDER, sample_order
from oms_events.engine.records import CommandWriter
from oms_events.kafka.connection import producer
from oms_events.kafka.security import environment as kafka_environment
from oms_events.settings import Settings
from tests.integration.avro.java_reader import read_from_registry
from tests.integration.engine.harness import (
    TEST_TIMEOUTS,
    light,
    place_order,
    read_topic,
)

PARCEL = {
    "type": "record",
    "name": "Parcel",
    "namespace": "oms.test",
    "fields": [{"name": "id", "type": "string"}, {"name": "weight_g", "type": "int"}],
}


def _topic() -> str:
    return f"t{uuid.uuid4().hex[:8]}.oms.order.commands"


def _catalog(tmp_path: Path, schema: dict[str, Any]) -> Catalog:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "Parcel.avsc").write_text(json.dumps(schema))
    return Catalog(tmp_path)


def test_confluents_deserializer_reads_what_the_registry_codec_writes(registry_url: str) -> None:
    topic = _topic()
    codec = ConfluentCodec(SchemaRegistry(registry_url))
    order = sample_order()
    data = codec.encode(PLACE_ORDER, order, topic=topic)
    ours = codec.decode(data)[1]
    theirs = AvroDeserializer(SchemaRegistryClient({"url": registry_url}))(
        data, SerializationContext(topic, MessageField.VALUE)
    )
    assert theirs == ours
    assert theirs["customer"]["name"] == "张三"
    assert theirs["lines"] == order["lines"]


def test_apache_avro_for_java_reads_what_the_registry_codec_writes(
    registry_url: str, java_classpath: str
) -> None:
    topic = _topic()
    codec = ConfluentCodec(SchemaRegistry(registry_url))
    data = codec.encode(PLACE_ORDER, sample_order(), topic=topic)
    [line] = read_from_registry(java_classpath, registry_url, [data])
    parsed = codec.catalog.get(PLACE_ORDER).parsed
    assert next(iter(json_reader(io.StringIO(line), parsed))) == codec.decode(data)[1]
    assert json.loads(line)["customer"]["name"] == "张三"


@pytest.mark.parametrize(
    ("strategy", "subject"),
    [
        ("topic_record", "{topic}-oms.order.commands.PlaceOrder"),
        ("topic", "{topic}-value"),
    ],
)
def test_subject_follows_the_strategy_and_is_full_transitive(
    registry_url: str, strategy: str, subject: str
) -> None:
    topic = _topic()
    ConfluentCodec(SchemaRegistry(registry_url), strategy).encode(
        PLACE_ORDER, sample_order(), topic=topic
    )
    expected = subject.format(topic=topic)
    assert expected in httpx.get(f"{registry_url}/subjects").json()
    config = httpx.get(f"{registry_url}/config/{expected}").json()
    assert config["compatibilityLevel"] == "FULL_TRANSITIVE"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda f: [*f, {"name": "carrier", "type": "string"}], id="field-no-default"),
        # A removal the registry's global BACKWARD level would accept; FULL refuses it.
        pytest.param(lambda f: f[:1], id="field-removed"),
    ],
)
def test_registry_refusal_names_subject_and_reason(
    registry_url: str, tmp_path: Path, change: Any
) -> None:
    topic = f"t{uuid.uuid4().hex[:8]}.parcels"
    old = ConfluentCodec(SchemaRegistry(registry_url), catalog=_catalog(tmp_path / "v1", PARCEL))
    old.encode("oms.test.Parcel", {"id": "P1", "weight_g": 500}, topic=topic)
    v2 = {**PARCEL, "fields": change(PARCEL["fields"])}
    new = ConfluentCodec(SchemaRegistry(registry_url), catalog=_catalog(tmp_path / "v2", v2))
    record = {"id": "P2", "weight_g": 1, "carrier": "SF"}
    with pytest.raises(RegistryRefused) as refused:
        new.encode("oms.test.Parcel", record, topic=topic)
    message = str(refused.value)
    assert "\n" not in message
    assert f"subject '{topic}-oms.test.Parcel'" in message
    assert refused.value.status == 409
    assert "ncompatible" in refused.value.reason


def test_engine_stops_with_one_line_when_the_registry_refuses(
    registry_url: str, isolated: Settings
) -> None:
    settings = light(isolated).replace(registry={"url": registry_url})
    events = topics.name(settings, topics.events("order"))
    subject = f"{events}-oms.order.OrderPlaced"
    # Another OrderPlaced already holds the subject: ours cannot replace it under FULL.
    squatter = {
        "type": "record",
        "name": "OrderPlaced",
        "namespace": "oms.order",
        "fields": [{"name": "legacy_ref", "type": "string"}],
    }
    posted = httpx.post(
        f"{registry_url}/subjects/{subject}/versions",
        json={"schema": json.dumps(squatter)},
        headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
    )
    assert posted.status_code == 200, posted.text
    codec = ConfluentCodec(SchemaRegistry(registry_url))
    command = CommandWriter(settings, codec).record(place_order("R1", "TEA"))
    p = producer(settings)
    p.send(command.topic, key=command.key, value=command.value)
    p.flush()
    p.close()
    env = {
        **os.environ,
        **kafka_environment(settings),  # as the admin: this test's topics have no ACLs
        "OMS_KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "OMS_KAFKA_TOPIC_PREFIX": settings.kafka.topic_prefix,
        "OMS_KAFKA_PARTITIONS": str(settings.kafka.partitions),
        "OMS_REGISTRY_URL": registry_url,
        "OMS_LOG_FORMAT": "json",
        **{f"OMS_ENGINE_{k.upper()}": str(v) for k, v in TEST_TIMEOUTS.items()},
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "oms_events.cli.main",
            "run",
            "--only",
            "order",
            "--no-apply-topics",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    refused = (
        f"error: schema registry refused oms.order.OrderPlaced under subject '{subject}': 409 "
    )
    assert len(errors) == 1 and errors[0].startswith(refused), run.stderr[-2000:]
    assert "Traceback" not in run.stderr + run.stdout
    # The command was not the problem: nothing was dead-lettered, no event was written.
    assert read_topic(settings, topics.name(settings, topics.DEADLETTER)) == []
    assert read_topic(settings, events) == []


def test_a_schema_id_the_registry_never_gave_is_a_decode_error(registry_url: str) -> None:
    codec = ConfluentCodec(SchemaRegistry(registry_url))
    with pytest.raises(DecodeError, match="no schema id 987654"):
        codec.decode(b"\x00" + (987654).to_bytes(4, "big") + b"\x02")
