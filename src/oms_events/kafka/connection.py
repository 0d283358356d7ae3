"""Reaching the broker: a quick reachability check and the one factory of clients.

``clients(settings)`` picks the implementation of the port (``port.py``) named by
``settings.kafka.client``; ``producer``, ``consumer`` and ``admin`` are shorthands
that also check the broker answers. Clients wait up to 30 s to bootstrap against a
dead address; a plain TCP connect answers in milliseconds, so operators get a
one-line error at once.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from oms_events.kafka.errors import KafkaTimeout, KafkaUnavailable
from oms_events.kafka.port import Admin, Clients, Consumer, Producer, Record, TopicPartition
from oms_events.kafka.security import client_security
from oms_events.settings import Settings

# Fetch wait of a consumer that reads partitions to their end (replays, indexes): with
# librdkafka the position passes a partition's last transaction marker only when an
# empty fetch at the end comes back, which takes this long.
READ_TO_END_WAIT_MS = 10


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


def clients(settings: Settings) -> Clients:
    """The Kafka client implementation ``settings.kafka.client`` names, authenticating
    as :func:`~oms_events.kafka.security.client_security` says."""
    security = client_security(settings)
    if settings.kafka.client == "kafka-python":
        from oms_events.kafka.kafkapython import KafkaPythonClients

        return KafkaPythonClients(settings.kafka.bootstrap_servers, security)
    from oms_events.kafka.confluent import ConfluentClients

    return ConfluentClients(settings.kafka.bootstrap_servers, security)


def admin(settings: Settings) -> Admin:
    """An admin client for the configured cluster."""
    check_reachable(settings.kafka.bootstrap_servers)
    return clients(settings).admin()


def producer(settings: Settings, **config: Any) -> Producer:
    """A producer (idempotent, acks=all; transactional with ``transactional_id``)."""
    check_reachable(settings.kafka.bootstrap_servers)
    return clients(settings).producer(**config)


def consumer(settings: Settings, **config: Any) -> Consumer:
    """A consumer that only ever sees committed transactions (unless told otherwise)."""
    check_reachable(settings.kafka.bootstrap_servers)
    return clients(settings).consumer(**config)


def read_to_end(settings: Settings, topic: str, since_ms: int | None = None) -> list[Record]:
    """The committed records of ``topic`` (from ``since_ms`` when given) up to its last
    stable offsets as they are now, partition by partition in log order; nothing is
    committed (a group-less reader)."""
    c = consumer(
        settings, group_id=None, fetch_max_wait_ms=READ_TO_END_WAIT_MS, max_poll_records=5000
    )
    try:
        return read_to_end_with(c, topic, since_ms)
    finally:
        c.close()


def read_to_end_with(
    c: Consumer,
    topic: str,
    since_ms: int | None = None,
    settle_s: float = 0.0,
    timeout_s: float | None = None,
) -> list[Record]:
    """:func:`read_to_end` with a consumer of the caller's (group-less; its isolation
    decides what is seen), which stays open.

    ``settle_s``: a commit returns once the transaction coordinator has decided, and its
    markers reach the partitions after that (Kafka's TransactionCoordinator: "we can
    respond to the client immediately and continue to write the txn markers"); until
    they do, the last stable offset stops before the transaction's records. Wait up to
    this long for it to pass what was on the log when the read began, so a read right
    after a commit sees that commit (a transaction left open longer stays hidden).
    ``timeout_s``: :class:`KafkaTimeout` if the end is not reached by then."""
    started = time.monotonic()
    parts = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic))]
    if not parts:
        return []
    c.assign(parts)
    c.seek_to_beginning(*parts)
    on_log = c.end_offsets(parts, stable=False) if settle_s else {}
    ends = c.end_offsets(parts)
    while any(ends[tp] < on_log[tp] for tp in on_log) and time.monotonic() - started < settle_s:
        time.sleep(0.05)
        ends = c.end_offsets(parts)
    if since_ms is not None:
        for tp, offset in c.offsets_for_times(dict.fromkeys(parts, since_ms)).items():
            c.seek(tp, ends[tp] if offset is None else offset)
    found: dict[TopicPartition, list[Record]] = {tp: [] for tp in parts}
    while any(c.position(tp) < ends[tp] for tp in parts):
        if timeout_s is not None and time.monotonic() - started > timeout_s:
            raise KafkaTimeout(f"{topic}: its end {ends} not reached in {timeout_s:.0f} s")
        for tp, batch in c.poll(timeout_ms=200).items():
            found[tp].extend(r for r in batch if r.offset < ends[tp])
    return [r for tp in parts for r in found[tp]]
