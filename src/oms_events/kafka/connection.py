"""Reaching the broker: a quick reachability check and client factories.

kafka-python waits up to 30 s to bootstrap against a dead address; a plain TCP
connect answers in milliseconds, so operators get a one-line error at once.
"""

from __future__ import annotations

import socket
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from oms_events.kafka.errors import KafkaUnavailable
from oms_events.settings import Settings


def check_reachable(bootstrap_servers: str, timeout: float = 3.0) -> None:
    """Raise :class:`KafkaUnavailable` unless one bootstrap address accepts TCP."""
    errors = []
    for address in bootstrap_servers.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
                return
        except OSError as exc:
            errors.append(f"{address.strip()} ({exc.strerror or exc})")
    raise KafkaUnavailable(
        f"cannot reach Kafka at {', '.join(errors)}: start it with `oms dev up` "
        "or set OMS_KAFKA_BOOTSTRAP_SERVERS"
    )


def admin(settings: Settings) -> KafkaAdminClient:
    """An admin client for the configured cluster."""
    check_reachable(settings.kafka.bootstrap_servers)
    return KafkaAdminClient(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        client_id="oms-admin",
        bootstrap_timeout_ms=10_000,
    )


def producer(settings: Settings, **config: Any) -> KafkaProducer:
    """A producer with the engine's defaults: idempotent, acks=all, a short linger so
    that hot paths batch many records per request."""
    check_reachable(settings.kafka.bootstrap_servers)
    defaults: dict[str, Any] = {
        "bootstrap_servers": settings.kafka.bootstrap_servers,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "batch_size": 256 * 1024,
    }
    if config.get("transactional_id"):
        # A transaction begun right after a commit gets CONCURRENT_TRANSACTIONS from
        # AddOffsetsToTxn until the last one's markers are written, and kafka-python
        # waits retry_backoff_ms (100 ms by default) before asking again: that capped
        # a transactional writer near 15 transactions/s and added up to 100 ms to every
        # hop of the engine (measured: p50 place->confirmed at 150 orders/s, see
        # bench/README.md).
        defaults["retry_backoff_ms"] = 5
    defaults.update(config)
    return KafkaProducer(**defaults)


def consumer(settings: Settings, *topics: str, **config: Any) -> KafkaConsumer:
    """A consumer that only ever sees committed transactions."""
    check_reachable(settings.kafka.bootstrap_servers)
    defaults: dict[str, Any] = {
        "bootstrap_servers": settings.kafka.bootstrap_servers,
        "isolation_level": "read_committed",
        "auto_offset_reset": "earliest",
        "enable_auto_commit": False,
    }
    defaults.update(config)
    return KafkaConsumer(*topics, **defaults)
