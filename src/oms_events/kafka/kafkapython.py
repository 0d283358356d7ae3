"""The port on kafka-python (pure Python): the previous client, kept as an option
(``OMS_KAFKA_CLIENT=kafka-python``).

Group membership here needs two workarounds of kafka-python 3.0's join loop, which
reach into the coordinator's private attributes (this is the only module that
does; the default client needs none):

1. **A lost join** (a member idle forever). A rejoin started because the leader's
   metadata snapshot changed is signalled by that snapshot alone, not by
   ``rejoin_needed``. When ``poll``'s timeout ends before the SyncGroup answer, the
   task carries on in the background and, as leader, records the new snapshot as
   assigned: ``need_rejoin()`` turns false, nothing applies the assignment, the
   member stays "rebalancing" with heartbeats disabled and is evicted.
   ``_guard`` makes ``need_rejoin()`` also true while a join attempt is unfinished
   (``coordinator.rejoining``), so the next poll always goes back for it.
2. **A wasted join.** A join task that finishes *between* two polls is replaced by
   a fresh JoinGroup on the next poll (one more generation for the whole group).
   ``poll`` therefore keeps polling while a join it started is under way, and
   returns nothing from such a poll: eager rebalancing revoked every partition,
   and positions restart from the committed offsets after the assignment.

``subscribe`` also fetches metadata between subscribing and joining, so the first
assignment is made against a full snapshot and is final. When the private
attributes are absent (another kafka-python version) the guard logs once and does
nothing. Remove these when kafka-python applies a finished join whatever
``need_rejoin`` says.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import kafka
import kafka.errors as ke
import structlog
from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ConfigResource,
    ConfigResourceType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from kafka.admin import NewTopic as KNewTopic
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.structs import OffsetAndMetadata

from oms_events.kafka.errors import KafkaError, KafkaTimeout, ProducerFenced, TransactionAborted
from oms_events.kafka.port import (
    ACL_RESOURCES,
    AclRule,
    GroupMetadata,
    Headers,
    Isolation,
    NewTopic,
    Rebalance,
    Record,
    RecordMetadata,
    TopicPartition,
)
from oms_events.kafka.security import PLAINTEXT, ClientSecurity

log = structlog.get_logger(__name__)


def _error(exc: Exception) -> KafkaError:
    """The port's error for a kafka-python one."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ke.ProducerFencedError | ke.InvalidProducerEpochError):
        return ProducerFenced(text)
    if isinstance(exc, ke.KafkaTimeoutError):
        return KafkaTimeout(text)
    if isinstance(
        exc,
        ke.CommitFailedError
        | ke.IllegalGenerationError
        | ke.UnknownMemberIdError
        | ke.FencedInstanceIdError
        | ke.RebalanceInProgressError,
    ):
        return TransactionAborted(text)
    return KafkaError(text, retriable=bool(getattr(exc, "retriable", False)))


def _ktp(tp: TopicPartition) -> kafka.TopicPartition:
    return kafka.TopicPartition(tp.topic, tp.partition)


class _Delivery:
    __slots__ = ("_future",)

    def __init__(self, future: Any) -> None:
        self._future = future

    def get(self, timeout_s: float = 30.0) -> RecordMetadata:
        try:
            m = self._future.get(timeout=timeout_s)
        except ke.KafkaError as exc:
            raise _error(exc) from exc
        return RecordMetadata(m.topic, m.partition, m.offset)


class KafkaPythonProducer:
    """The port's producer on ``kafka.KafkaProducer``."""

    def __init__(self, **config: Any) -> None:
        self._p = kafka.KafkaProducer(**config)

    def init_transactions(self, timeout_s: float = 30.0) -> None:
        try:
            self._p.init_transactions()
        except ke.KafkaError as exc:
            raise _error(exc) from exc

    def begin_transaction(self) -> None:
        try:
            self._p.begin_transaction()
        except ke.KafkaError as exc:
            raise _error(exc) from exc

    def send(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Headers | None = None,
    ) -> _Delivery:
        try:
            return _Delivery(
                self._p.send(topic, value=value, key=key, partition=partition, headers=headers)
            )
        except ke.KafkaError as exc:
            raise _error(exc) from exc

    def send_offsets_to_transaction(
        self,
        offsets: Mapping[TopicPartition, int],
        group: GroupMetadata,
        timeout_s: float = 30.0,
    ) -> None:
        try:
            self._p.send_offsets_to_transaction(
                {_ktp(tp): OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()}, group.raw
            )
        except ke.KafkaError as exc:
            raise _error(exc) from exc

    def commit_transaction(self, timeout_s: float = 60.0) -> None:
        try:
            self._p.commit_transaction()
        except ke.KafkaError as exc:
            raise _error(exc) from exc

    def abort_transaction(self, timeout_s: float = 60.0) -> None:
        try:
            self._p.abort_transaction()
        except ke.KafkaError as exc:
            raise _error(exc) from exc

    def flush(self, timeout_s: float = 30.0) -> None:
        try:
            self._p.flush(timeout=timeout_s)
        except ke.KafkaError as exc:
            raise _error(exc) from exc

    def close(self, timeout_s: float = 5.0) -> None:
        self._p.close(timeout=timeout_s)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, assigned: Rebalance | None, revoked: Rebalance | None) -> None:
        self.assigned, self.revoked = assigned, revoked

    def on_partitions_revoked(self, revoked: Iterable[kafka.TopicPartition]) -> None:
        if self.revoked is not None:
            self.revoked([TopicPartition(tp.topic, tp.partition) for tp in revoked])

    def on_partitions_assigned(self, assigned: Iterable[kafka.TopicPartition]) -> None:
        if self.assigned is not None:
            self.assigned([TopicPartition(tp.topic, tp.partition) for tp in assigned])


def _guard(consumer: kafka.KafkaConsumer) -> None:
    """Make the consumer's ``need_rejoin()`` true while a join attempt is unfinished."""
    coordinator: Any = getattr(consumer, "_coordinator", None)
    if coordinator is None or not hasattr(coordinator, "rejoining"):
        log.warning("kafka-python coordinator changed; join guard not installed")
        return
    if getattr(coordinator, "_oms_guarded", False):
        return
    original = coordinator.need_rejoin

    def need_rejoin() -> bool:
        # ``rejoining`` is set when a join attempt starts (after the revoke callback)
        # and cleared only once its assignment has been applied.
        return bool(original() or coordinator.rejoining)

    coordinator.need_rejoin = need_rejoin
    coordinator._oms_guarded = True


def _joining(consumer: kafka.KafkaConsumer) -> bool:
    """True while a join attempt has started and its assignment is not applied yet."""
    coordinator: Any = getattr(consumer, "_coordinator", None)
    return bool(getattr(coordinator, "rejoining", False))


class KafkaPythonConsumer:
    """The port's consumer on ``kafka.KafkaConsumer``."""

    def __init__(self, connection: dict[str, Any], **config: Any) -> None:
        self._connection = connection  # bootstrap servers and security
        self._c = kafka.KafkaConsumer(**connection, **config)
        self._log_end: kafka.KafkaConsumer | None = None  # read_uncommitted, for log ends
        self._subscribed = False

    def subscribe(
        self,
        topics: Sequence[str],
        on_assigned: Rebalance | None = None,
        on_revoked: Rebalance | None = None,
    ) -> None:
        self._c.subscribe(list(topics), listener=_Listener(on_assigned, on_revoked))
        # ``topics()`` is a blocking metadata request: the leader then assigns against
        # a full snapshot and sees no "metadata changed" later (see the module doc).
        self._c.topics()
        _guard(self._c)
        self._subscribed = True

    def group_metadata(self) -> GroupMetadata | None:
        meta = self._c.group_metadata()
        # An evicted member resets to generation -1 / no member id, and the broker
        # accepts such a transactional offset commit (the pre-KIP-447 path).
        if meta is None or meta.generation_id < 0 or not meta.member_id:
            return None
        return GroupMetadata(meta.group_id, meta.member_id, meta)

    def committed(self, tp: TopicPartition, timeout_ms: int = 30_000) -> int | None:
        try:
            found = self._c.committed(_ktp(tp), timeout_ms=timeout_ms)
        except ke.KafkaError as exc:
            raise _error(exc) from exc
        return None if found is None else int(found)

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        self._c.assign([_ktp(tp) for tp in partitions])

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(tp.topic, tp.partition) for tp in self._c.assignment()}

    def poll(
        self, timeout_ms: int, max_records: int | None = None
    ) -> dict[TopicPartition, list[Record]]:
        try:
            polled = self._c.poll(timeout_ms=timeout_ms, max_records=max_records)
            if self._subscribed and _joining(self._c):
                # Finish the join this poll started (see the module doc); nothing read
                # meanwhile counts, positions restart from the committed offsets.
                deadline = time.monotonic() + 120
                while _joining(self._c) and time.monotonic() < deadline:
                    self._c.poll(timeout_ms=200, max_records=1)
                return {}
        except ke.KafkaError as exc:
            raise _error(exc) from exc
        return {
            TopicPartition(tp.topic, tp.partition): [
                Record(
                    r.topic,
                    r.partition,
                    r.offset,
                    r.key,
                    r.value,
                    list(r.headers or ()),
                    r.timestamp,
                )
                for r in records
            ]
            for tp, records in polled.items()
        }

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._c.seek(_ktp(tp), offset)

    def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self._c.seek_to_beginning(*[_ktp(tp) for tp in partitions])

    def seek_to_end(self, *partitions: TopicPartition) -> None:
        self._c.seek_to_end(*[_ktp(tp) for tp in partitions])
        for tp in partitions:  # fix the start now, before anything else is written
            self._c.position(_ktp(tp))

    def position(self, tp: TopicPartition) -> int:
        try:
            return int(self._c.position(_ktp(tp)))
        except ke.KafkaError as exc:
            raise _error(exc) from exc

    def pause(self, *partitions: TopicPartition) -> None:
        self._c.pause(*[_ktp(tp) for tp in partitions])

    def resume(self, *partitions: TopicPartition) -> None:
        self._c.resume(*[_ktp(tp) for tp in partitions])

    def end_offsets(
        self, partitions: Sequence[TopicPartition], stable: bool = True
    ) -> dict[TopicPartition, int]:
        client = self._c
        if not stable:
            if self._log_end is None:
                self._log_end = kafka.KafkaConsumer(
                    **self._connection, isolation_level="read_uncommitted"
                )
            client = self._log_end
        try:
            ends = client.end_offsets([_ktp(tp) for tp in partitions])
        except ke.KafkaError as exc:
            raise _error(exc) from exc
        return {TopicPartition(tp.topic, tp.partition): int(o) for tp, o in ends.items()}

    def beginning_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        try:
            starts = self._c.beginning_offsets([_ktp(tp) for tp in partitions])
        except ke.KafkaError as exc:
            raise _error(exc) from exc
        return {TopicPartition(tp.topic, tp.partition): int(o) for tp, o in starts.items()}

    def offsets_for_times(
        self, timestamps: Mapping[TopicPartition, int]
    ) -> dict[TopicPartition, int | None]:
        try:
            found = self._c.offsets_for_times({_ktp(tp): ms for tp, ms in timestamps.items()})
        except ke.KafkaError as exc:
            raise _error(exc) from exc
        return {
            TopicPartition(tp.topic, tp.partition): (None if o is None else int(o.offset))
            for tp, o in found.items()
        }

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(self._c.partitions_for_topic(topic) or ())

    def close(self) -> None:
        if self._log_end is not None:
            self._log_end.close()
        self._c.close()


class KafkaPythonAdmin:
    """The port's admin on ``kafka.KafkaAdminClient``."""

    def __init__(self, connection: dict[str, Any]) -> None:
        self._a = kafka.KafkaAdminClient(
            **connection, client_id="oms-admin", bootstrap_timeout_ms=10_000
        )

    def create_topics(self, topics: Sequence[NewTopic], timeout_s: float = 30.0) -> None:
        if not topics:
            return
        try:
            self._a.create_topics(
                [
                    KNewTopic(
                        t.name, t.partitions, t.replication_factor, topic_configs=dict(t.config)
                    )
                    for t in topics
                ],
                timeout_ms=int(timeout_s * 1000),
                wait_for_metadata=True,
            )
        except ke.TopicAlreadyExistsError:
            pass
        except ke.KafkaError as exc:
            raise _error(exc) from exc

    def describe_topics(self, names: Sequence[str]) -> dict[str, int]:
        try:
            found = self._a.describe_topics(list(names))
        except ke.KafkaError as exc:
            raise _error(exc) from exc
        return {d["name"]: len(d["partitions"]) for d in found if d["error_code"] == 0}

    def topic_configs(self, names: Sequence[str]) -> dict[str, dict[str, str]]:
        if not names:
            return {}
        resources = [ConfigResource(ConfigResourceType.TOPIC, n, configs=None) for n in names]
        try:
            result = self._a.describe_configs(resources, config_filter="all")
        except ke.KafkaError as exc:
            raise _error(exc) from exc
        return {
            topic: {k: v["value"] for k, v in entries.items()}
            for topic, entries in result["topic"].items()
        }

    def set_topic_config(self, name: str, config: Mapping[str, str]) -> None:
        resource = ConfigResource(ConfigResourceType.TOPIC, name, configs=dict(config))
        try:
            # Incremental (SET): the plain AlterConfigs would reset every other key.
            self._a.alter_configs([resource], incremental=True)
        except ke.KafkaError as exc:
            raise _error(exc) from exc

    def list_topics(self) -> set[str]:
        return set(self._a.list_topics())

    def broker_count(self) -> int:
        try:
            return len(self._a.describe_cluster()["brokers"])
        except ke.KafkaError as exc:
            raise _error(exc) from exc

    def delete_topics(self, names: Sequence[str], timeout_s: float = 30.0) -> None:
        if not names:
            return
        try:
            self._a.delete_topics(list(names), timeout_ms=int(timeout_s * 1000))
        except ke.UnknownTopicOrPartitionError:
            pass
        except ke.KafkaError as exc:
            raise _error(exc) from exc

    def create_acls(self, rules: Sequence[AclRule]) -> None:
        if not rules:
            return
        acls = [
            ACL(
                f"User:{rule.principal}",
                "*",
                ACLOperation[rule.operation.upper()],
                ACLPermissionType.ALLOW,
                ResourcePattern(
                    ResourceType[rule.resource.upper()],
                    rule.name,
                    ACLResourcePatternType.PREFIXED
                    if rule.prefixed
                    else ACLResourcePatternType.LITERAL,
                ),
            )
            for rule in rules
        ]
        try:
            failed = self._a.create_acls(acls)["failed"]
        except ke.KafkaError as exc:
            raise _error(exc) from exc
        if failed:  # error classes, one per refused rule
            raise KafkaError(f"creating ACLs failed: {failed[0].__name__}")

    def acls(self) -> set[AclRule]:
        every = ACLFilter(
            principal=None,
            host=None,
            operation=ACLOperation.ANY,
            permission_type=ACLPermissionType.ALLOW,
            resource_pattern=ResourcePatternFilter(
                ResourceType.ANY, None, ACLResourcePatternType.ANY
            ),
        )
        try:
            found, error = self._a.describe_acls(every)
        except ke.KafkaError as exc:
            raise _error(exc) from exc
        if error is not ke.NoError:
            raise KafkaError(f"describing ACLs failed: {error.__name__}")
        return {
            AclRule(
                a.principal.removeprefix("User:"),
                a.resource_pattern.resource_type.name.lower(),
                a.resource_pattern.resource_name,
                a.operation.name.lower(),
                a.resource_pattern.pattern_type == ACLResourcePatternType.PREFIXED,
            )
            for a in found
            if a.resource_pattern.resource_type.name.lower() in ACL_RESOURCES
        }

    def set_scram_credentials(self, passwords: Mapping[str, str], mechanism: str) -> None:
        kind = ScramMechanism[mechanism.replace("-", "_")]
        try:
            errors = self._a.alter_user_scram_credentials(
                [UserScramCredentialUpsertion(u, kind, p) for u, p in passwords.items()]
            )
        except ke.KafkaError as exc:
            raise _error(exc) from exc
        failed = {user: error for user, error in errors.items() if error}
        if failed:
            raise KafkaError(f"setting SCRAM credentials failed: {failed}")

    def close(self) -> None:
        self._a.close()


class KafkaPythonClients:
    """Builds kafka-python clients for one cluster."""

    name = "kafka-python"

    def __init__(self, bootstrap_servers: str, security: ClientSecurity = PLAINTEXT) -> None:
        # Every client gets both: the servers and how to authenticate to them.
        self._connection: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            **security.kafka_python(),
        }

    def producer(
        self,
        *,
        transactional_id: str | None = None,
        transaction_timeout_ms: int = 60_000,
        linger_ms: int = 5,
        client_id: str | None = None,
    ) -> KafkaPythonProducer:
        config: dict[str, Any] = {
            **self._connection,
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": linger_ms,
            "batch_size": 256 * 1024,
        }
        if client_id:
            config["client_id"] = client_id
        if transactional_id:
            config["transactional_id"] = transactional_id
            config["transaction_timeout_ms"] = transaction_timeout_ms
            # A transaction begun right after a commit gets CONCURRENT_TRANSACTIONS from
            # AddOffsetsToTxn until the last one's markers are written, and kafka-python
            # waits retry_backoff_ms (100 ms by default) before asking again: that capped
            # a transactional writer near 15 transactions/s.
            config["retry_backoff_ms"] = 5
        return KafkaPythonProducer(**config)

    def consumer(
        self,
        *,
        group_id: str | None = None,
        client_id: str | None = None,
        isolation: Isolation = "read_committed",
        max_poll_records: int = 500,
        fetch_max_wait_ms: int = 500,
        session_timeout_ms: int = 45_000,
        heartbeat_interval_ms: int = 3000,
        max_poll_interval_ms: int = 300_000,
        group_instance_id: str | None = None,
        fetch_max_bytes: int = 64 * 1024 * 1024,
        max_partition_fetch_bytes: int = 8 * 1024 * 1024,
    ) -> KafkaPythonConsumer:
        config: dict[str, Any] = {
            "group_id": group_id,
            "isolation_level": isolation,
            "auto_offset_reset": "earliest",
            "enable_auto_commit": False,
            "max_poll_records": max_poll_records,
            "fetch_max_wait_ms": fetch_max_wait_ms,
            "fetch_max_bytes": fetch_max_bytes,
            "max_partition_fetch_bytes": max_partition_fetch_bytes,
            "session_timeout_ms": session_timeout_ms,
            "heartbeat_interval_ms": heartbeat_interval_ms,
            # Also the rebalance timeout kafka-python sends in JoinGroup.
            "max_poll_interval_ms": max_poll_interval_ms,
        }
        if client_id:
            config["client_id"] = client_id
        if group_instance_id:
            config["group_instance_id"] = group_instance_id
        return KafkaPythonConsumer(self._connection, **config)

    def admin(self) -> KafkaPythonAdmin:
        return KafkaPythonAdmin(self._connection)
