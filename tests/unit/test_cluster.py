"""The dev Kafka cluster's layout and the durability rules of topics and producers
(issue 20); the cluster itself runs in tests/fault/test_cluster_faults.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from oms_events import topics
from oms_events.devservices.kafka_broker import KafkaBroker, KafkaCluster
from oms_events.devservices.process import ServiceError
from oms_events.kafka import confluent, kafkapython
from oms_events.kafka.security import PRINCIPALS
from oms_events.settings import Settings

PASSWORDS = {p: f"pw-{p}" for p in PRINCIPALS}


def _props(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_three_copies_two_in_sync_from_three_brokers_one_on_one() -> None:
    s = Settings()
    assert [topics.replication_factor(s, n) for n in (1, 2, 3, 5)] == [1, 2, 3, 3]
    assert [topics.min_insync_replicas(f) for f in (1, 2, 3, 5)] == [1, 1, 2, 2]
    pinned = s.replace(kafka={"replication_factor": 2})
    assert topics.replication_factor(pinned, 3) == 2


def test_node_n_of_three_has_its_own_ports_and_folder_and_every_voter(tmp_path: Path) -> None:
    s = Settings().replace(
        dev={"data_dir": tmp_path, "kafka_port": 19092, "kafka_controller_port": 19093}
    )
    node = KafkaBroker(s, 2, 3)
    props = _props(node.write_config(PASSWORDS))
    assert node.home == tmp_path / "kafka" / "node-2"
    assert node.lib.parent == tmp_path / "kafka"  # the jars are shared
    assert props["node.id"] == "2"
    assert props["listeners"] == "CLIENT://127.0.0.1:19094,CONTROLLER://127.0.0.1:19095"
    assert props["controller.quorum.voters"] == (
        "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097"
    )
    assert props["transaction.state.log.replication.factor"] == "3"
    assert props["transaction.state.log.min.isr"] == "2"
    assert props["min.insync.replicas"] == "2"
    cluster = KafkaCluster(s, 3)
    assert cluster.bootstrap_servers == "127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096"


def test_one_node_keeps_its_ports_folder_and_single_copies(tmp_path: Path) -> None:
    s = Settings().replace(dev={"data_dir": tmp_path})
    node = KafkaCluster(s).brokers
    assert len(node) == 1 and node[0].home == tmp_path / "kafka"
    props = _props(node[0].write_config(PASSWORDS))
    # The one node keeps the controller port of the settings (9093 unless the
    # environment moves it, as a CI beside a running dev broker does).
    assert props["controller.quorum.voters"] == f"1@127.0.0.1:{s.dev.kafka_controller_port}"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["min.insync.replicas"] == "1"


def test_a_node_takes_only_scram_clients_and_denies_what_no_acl_allows(tmp_path: Path) -> None:
    node = KafkaBroker(Settings().replace(dev={"data_dir": tmp_path}))
    props = _props(node.write_config(PASSWORDS))
    assert props["listener.security.protocol.map"] == (
        "CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
    )
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin"
    assert 'password="pw-admin"' in props["listener.name.client.scram-sha-512.sasl.jaas.config"]
    assert (node.home / "server.properties").stat().st_mode & 0o777 == 0o600
    # The PLAINTEXT node of an old data dir, started once to be upgraded (no authorizer).
    old = _props(node.write_config(None))
    assert "authorizer.class.name" not in old and old["listeners"].startswith("PLAINTEXT://")


def test_a_folder_formatted_for_one_count_refuses_another(tmp_path: Path) -> None:
    s = Settings().replace(dev={"data_dir": tmp_path})
    first = KafkaCluster(s, 3).cluster_id()
    assert KafkaCluster(s, 3).cluster_id() == first  # every node formats with one id
    assert KafkaCluster(s).count == 3  # status and down find the three
    with pytest.raises(ServiceError, match="--brokers 3"):
        KafkaCluster(s, 1).cluster_id()


@pytest.mark.parametrize("transactional_id", [None, "tx-1"])
def test_every_producer_waits_for_all_in_sync_copies_idempotently(
    monkeypatch: pytest.MonkeyPatch, transactional_id: str | None
) -> None:
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(confluent.ck, "Producer", lambda config: seen.append(config))
    monkeypatch.setattr(kafkapython.kafka, "KafkaProducer", lambda **config: seen.append(config))
    confluent.ConfluentClients("127.0.0.1:1").producer(transactional_id=transactional_id)
    kafkapython.KafkaPythonClients("127.0.0.1:1").producer(transactional_id=transactional_id)
    ck, kp = seen
    assert (ck["acks"], ck["enable.idempotence"]) == ("all", True)
    assert (kp["acks"], kp["enable_idempotence"]) == ("all", True)
