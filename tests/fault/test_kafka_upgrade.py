"""A dev data dir from before SASL (PLAINTEXT, no authorizer), its broker running, is
secured by the next ``oms dev up`` (``KafkaCluster.start``): its topics and records are
kept, clients without credentials are refused, the admin reads on. The broker is one
this test starts on its own ports and data directory, never the shared one."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from oms_events.devservices.kafka_broker import KafkaBroker, KafkaCluster
from oms_events.kafka.connection import clients
from oms_events.kafka.port import NewTopic, TopicPartition
from oms_events.kafka.security import as_admin, credentials_path
from oms_events.settings import Settings
from tests.ports import free_port


def test_a_plaintext_data_dir_is_secured_and_keeps_its_records(dev_services: Settings) -> None:
    home = Path(tempfile.mkdtemp(prefix="oms-kafka-upgrade-"))
    port, controller = free_port(), free_port()
    settings = dev_services.replace(
        kafka={"bootstrap_servers": f"127.0.0.1:{port}", "security_protocol": "PLAINTEXT"},
        dev={"data_dir": home, "kafka_port": port, "kafka_controller_port": controller},
    )
    cluster = KafkaCluster(settings)
    broker = cluster.brokers[0]
    broker.lib.parent.mkdir(parents=True)
    broker.lib.symlink_to(KafkaBroker(dev_services).lib, target_is_directory=True)
    try:
        # A data dir as `oms dev up` left it before SASL: recorded and formatted
        # without credentials, its node PLAINTEXT and running, a record on a topic.
        cluster.record.write_text("nodes=1\ncluster.id=SMlZc2k8TZ-1QDq9zt8l3A\n")
        broker.format_storage(broker.write_config(None), "SMlZc2k8TZ-1QDq9zt8l3A", {})
        broker.wait_started(broker.launch(cluster, secure=False), 90)
        plain = clients(settings)
        admin = plain.admin()
        admin.create_topics([NewTopic("kept", 1)])
        admin.close()
        p = plain.producer()
        p.send("kept", b"before", key=b"k").get(10)
        p.close()

        assert KafkaCluster(settings).start() is True  # upgraded and restarted secured

        assert credentials_path(settings).stat().st_mode & 0o777 == 0o600
        with pytest.raises(KafkaException):
            AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"}).list_topics(timeout=3)
        c = clients(as_admin(settings)).consumer(fetch_max_wait_ms=10)
        try:
            tp = TopicPartition("kept", 0)
            c.assign([tp])
            c.seek_to_beginning(tp)
            records = [r for rs in c.poll(timeout_ms=10_000).values() for r in rs]
        finally:
            c.close()
        assert [r.value for r in records] == [b"before"]
    finally:
        KafkaCluster(settings).stop()
        shutil.rmtree(home, ignore_errors=True)
