"""The port on confluent-kafka (librdkafka): the default client.

librdkafka parses and builds records in C, runs the group protocol and heartbeats
on its own threads, and implements KIP-447 fencing itself, so this module only
translates types. What it adds:

* ``partitioner=murmur2_random``: librdkafka's default (consistent_random, CRC32)
  would put a keyed record on another partition than the Java client does, and
  the engine's owner-partition rule (``partitioner.py``) would break.
* positions: librdkafka reports a position only once a record was returned, and
  keeps it at the last record + 1 when a transaction marker follows. This consumer
  asks for partition-EOF events and keeps its own position (seek target, last
  record + 1, or the EOF offset), so ``position >= end`` means "read to the end"
  here too.
* ``logger``: librdkafka's own log lines (a broker down, a retry) go to the standard
  logger ``oms_events.kafka.librdkafka`` and so through structlog's renderer as JSON
  like every other line, instead of raw syslog-style text on stderr.
* ``metadata.recovery.strategy=none`` and a fresh admin client for a stale leader
  epoch: a restarted broker is met again without hanging or failing a lookup (see
  ``ConfluentClients`` and ``_STALE_LEADER``).
* a deadline of its own on ``send_offsets_to_transaction`` and on ``close``, which
  librdkafka and confluent-kafka leave without one (see ``ConfluentProducer``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, cast

import confluent_kafka as ck
import structlog
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    OffsetSpec,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)
from confluent_kafka.admin import NewTopic as CkNewTopic  # type: ignore[attr-defined]

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
LIBRDKAFKA = logging.getLogger("oms_events.kafka.librdkafka")

_FENCED = {
    ck.KafkaError._FENCED,
    ck.KafkaError.PRODUCER_FENCED,
    ck.KafkaError.INVALID_PRODUCER_EPOCH,
}
_EOF = ck.KafkaError._PARTITION_EOF
# Answers of a partition whose leader is not settled yet (a topic created a moment
# ago): librdkafka's admin results do not mark them retriable, but they pass.
_SETTLING = {
    ck.KafkaError.NOT_LEADER_FOR_PARTITION,
    ck.KafkaError.LEADER_NOT_AVAILABLE,
    ck.KafkaError.UNKNOWN_TOPIC_OR_PART,
}
_UNSETTLED = {ck.KafkaError._STATE, ck.KafkaError._OUTDATED}
# How often every client refreshes its cluster metadata (see ConfluentClients).
METADATA_REFRESH_MS = 10_000

# Answers to an admin client whose metadata predates a leader change (a broker
# restarted) or has no leader yet (_NOENT "No leaders found", a busy broker just up):
# librdkafka's ListOffsets sends the leader epoch it cached and fails the request on
# FENCED_LEADER_EPOCH without refreshing it, so asking the same client again fails
# again; a new client reads fresh metadata.
_STALE_LEADER = {
    ck.KafkaError._NOENT,
    ck.KafkaError.FENCED_LEADER_EPOCH,
    ck.KafkaError.UNKNOWN_LEADER_EPOCH,
    ck.KafkaError.NOT_LEADER_FOR_PARTITION,
}
# How long past its own timeout send_offsets_to_transaction is waited for before its
# producer is given up on (see ConfluentProducer): librdkafka answers a timed-out call
# within milliseconds of its timeout when it answers at all.
_STRANDED_GRACE_S = 2.0
_LATEST = OffsetSpec.latest()  # type: ignore[no-untyped-call]
_EARLIEST = OffsetSpec.earliest()  # type: ignore[no-untyped-call]


def _error(exc: ck.KafkaException) -> KafkaError:
    """The port's error for a librdkafka one."""
    err = exc.args[0] if exc.args else None
    if not isinstance(err, ck.KafkaError):
        return KafkaError(str(exc))
    text = f"{err.name()}: {err.str()}"
    if err.code() in _FENCED or (err.fatal() and "fenced" in err.str().lower()):
        return ProducerFenced(text)
    if err.code() == ck.KafkaError._TIMED_OUT:
        return KafkaTimeout(text)
    if err.txn_requires_abort():
        return TransactionAborted(text, retriable=err.retriable())
    return KafkaError(text, retriable=err.retriable() or err.code() in _SETTLING)


def _flush(producer: ck.Producer, timeout_s: float) -> int:
    """``producer.flush``, raising the port's error when the producer failed (fenced)."""
    try:
        return producer.flush(timeout_s)
    except ck.KafkaException as exc:
        raise _error(exc) from exc
    except SystemError as exc:
        # A fatal error raised while delivery callbacks run surfaces as a SystemError
        # whose context is the KafkaException.
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ck.KafkaException):
            raise _error(cause) from exc
        raise


def _tp(tp: TopicPartition, offset: int | None = None) -> ck.TopicPartition:
    if offset is None:
        return ck.TopicPartition(tp.topic, tp.partition)
    return ck.TopicPartition(tp.topic, tp.partition, offset)


class _Delivery:
    """Filled by librdkafka's delivery report, served by ``poll``/``flush``."""

    __slots__ = ("_error", "_metadata", "_producer")

    def __init__(self, producer: ck.Producer) -> None:
        self._producer = producer
        self._error: ck.KafkaError | None = None
        self._metadata: RecordMetadata | None = None

    def done(self, err: ck.KafkaError | None, msg: ck.Message) -> None:
        if err is not None:
            self._error = err
        else:
            self._metadata = RecordMetadata(
                cast(str, msg.topic()), cast(int, msg.partition()), cast(int, msg.offset())
            )

    def get(self, timeout_s: float = 30.0) -> RecordMetadata:
        deadline = time.monotonic() + timeout_s
        while self._metadata is None and self._error is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise KafkaTimeout(f"no delivery report in {timeout_s} s")
            _flush(self._producer, min(left, 1.0))
        if self._error is not None:
            raise _error(ck.KafkaException(self._error))
        assert self._metadata is not None
        return self._metadata


class ConfluentProducer:
    """The port's :class:`~oms_events.kafka.port.Producer` on ``confluent_kafka.Producer``.

    ``send_offsets_to_transaction`` runs in a thread of its own and is given up on
    ``_STRANDED_GRACE_S`` after its timeout. librdkafka sends the offsets to the group
    coordinator through a request with no deadline (librdkafka #5456, open in 2.16):
    caught by a broker restart, it waits for a broker state change that may never
    come, and the call blocks past its timeout for good. A processor thread stuck
    there decided nothing more (the broker-outage fault test: 115 orders undecided,
    every process alive, nothing logged). A producer given up on is *stranded*: every
    later call raises at once, and the thread still in librdkafka releases the client
    if its call ever returns. Its transaction is aborted by the broker after the
    transaction timeout, like a killed process's.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self._p = ck.Producer(config)
        self._transactional = "transactional.id" in config
        self._lock = threading.Lock()
        self._stranded: str | None = None  # why this producer was given up on

    def _usable(self) -> None:
        if self._stranded is not None:
            raise KafkaError(self._stranded)

    def init_transactions(self, timeout_s: float = 30.0) -> None:
        self._usable()
        try:
            self._p.init_transactions(timeout_s)
        except ck.KafkaException as exc:
            raise _error(exc) from exc

    def begin_transaction(self) -> None:
        self._usable()
        try:
            self._p.begin_transaction()
        except ck.KafkaException as exc:
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
        self._usable()
        delivery = _Delivery(self._p)
        wire = cast(Any, headers)  # list[tuple[str, bytes]], which librdkafka takes
        while True:
            try:
                if partition is None:
                    self._p.produce(topic, value, key, headers=wire, on_delivery=delivery.done)
                else:
                    self._p.produce(
                        topic,
                        value,
                        key,
                        partition=partition,
                        headers=wire,
                        on_delivery=delivery.done,
                    )
                return delivery
            except BufferError:
                self._p.poll(0.05)  # the local queue is full: let deliveries drain
            except ck.KafkaException as exc:
                raise _error(exc) from exc

    def send_offsets_to_transaction(
        self,
        offsets: Mapping[TopicPartition, int],
        group: GroupMetadata,
        timeout_s: float = 30.0,
    ) -> None:
        self._usable()
        parts = [_tp(tp, offset) for tp, offset in offsets.items()]
        answer: list[BaseException | None] = []

        def call() -> None:  # in its own thread: see the class doc
            error: BaseException | None = None
            try:
                self._p.send_offsets_to_transaction(parts, group.raw, timeout_s)
            except BaseException as exc:  # handed to the caller below
                error = exc
            with self._lock:
                answer.append(error)
                late = self._stranded is not None
            if late:  # the caller gave up on this producer: nobody else may release it
                self._release()

        worker = threading.Thread(target=call, name="send-offsets", daemon=True)
        worker.start()
        worker.join(timeout_s + _STRANDED_GRACE_S)
        with self._lock:
            if not answer:
                self._stranded = (
                    f"send_offsets_to_transaction got no answer in {timeout_s:.0f} s "
                    "(librdkafka #5456: the group coordinator request has no deadline); "
                    "this producer is given up on"
                )
                raise KafkaTimeout(self._stranded)
        error = answer[0]
        if isinstance(error, ck.KafkaException):
            raise _error(error) from error
        if error is not None:
            raise error

    def commit_transaction(self, timeout_s: float = 60.0) -> None:
        self._usable()
        try:
            self._p.commit_transaction(timeout_s)
        except ck.KafkaException as exc:
            raise _error(exc) from exc

    def abort_transaction(self, timeout_s: float = 60.0) -> None:
        self._usable()
        try:
            self._p.abort_transaction(timeout_s)
        except ck.KafkaException as exc:
            raise _error(exc) from exc

    def flush(self, timeout_s: float = 30.0) -> None:
        self._usable()
        left = _flush(self._p, timeout_s)
        if left:
            raise KafkaTimeout(f"{left} records not acknowledged in {timeout_s} s")

    def close(self, timeout_s: float = 5.0) -> None:
        with self._lock:
            if self._stranded is not None:
                return  # released by the thread still in librdkafka, if it ever returns
        # Best effort: a fenced producer fails its flush and its close-time abort, and
        # has nothing left to send.
        try:
            _flush(self._p, timeout_s)
        except KafkaError:
            log.info("producer closed without flushing", exc_info=True)
        # Destroying a transactional client caught by a broker restart was seen to
        # block for over a minute (the broker-outage reproducer): its caller, a processor
        # dropping its clients, must not. What outlasts the timeout ends in the
        # background (a daemon thread: it never holds up the process's exit).
        closer = threading.Thread(target=self._release, name="producer-close", daemon=True)
        closer.start()
        closer.join(timeout_s)
        if closer.is_alive():
            log.warning("producer close goes on in the background", waited_s=timeout_s)

    def _release(self) -> None:
        """Destroy the client. confluent-kafka's ``close`` flushes with no deadline, so a
        transactional producer first drops what the broker has not acknowledged: it
        belongs to a transaction that did not commit and is aborted anyway (with the
        broker away it would otherwise wait out ``message.timeout.ms``)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if self._transactional:
                with contextlib.suppress(ck.KafkaException):  # a fenced one may refuse
                    self._p.purge()
            try:
                self._p.close()
            except ck.KafkaException:
                # A producer fenced while a broker restarted raises its fatal error
                # again here; the processor replacing it must not die of it.
                log.info("producer closed after a fatal error", exc_info=True)


class ConfluentConsumer:
    """The port's :class:`~oms_events.kafka.port.Consumer` on ``confluent_kafka.Consumer``."""

    def __init__(
        self,
        config: dict[str, Any],
        admin_config: dict[str, Any],
        *,
        grouped: bool,
        max_records: int,
    ) -> None:
        self._c = ck.Consumer(config)
        self._group = config["group.id"]
        self._grouped = grouped
        self._isolation = (
            ck.IsolationLevel.READ_COMMITTED
            if config["isolation.level"] == "read_committed"
            else ck.IsolationLevel.READ_UNCOMMITTED
        )
        self._admin_config = admin_config
        self._admin: AdminClient | None = None
        self._max_records = max_records
        # Next offset per partition; TopicPartition keys and plain tuples are the same key.
        self._pos: dict[tuple[str, int], int] = {}
        self._paused: set[TopicPartition] = set()
        self._subscribed = False
        self._lock = threading.Lock()

    # --- group -----------------------------------------------------------------------

    def subscribe(
        self,
        topics: Sequence[str],
        on_assigned: Rebalance | None = None,
        on_revoked: Rebalance | None = None,
    ) -> None:
        def assigned(c: ck.Consumer, parts: list[ck.TopicPartition]) -> None:
            tps = [TopicPartition(p.topic, p.partition) for p in parts]
            # Assign before the callback, so a pause in it applies to these partitions.
            c.assign(parts)
            for tp in tps:
                self._pos.pop(tp, None)
                self._paused.discard(tp)
            if on_assigned is not None:
                on_assigned(tps)

        def revoked(c: ck.Consumer, parts: list[ck.TopicPartition]) -> None:
            tps = [TopicPartition(p.topic, p.partition) for p in parts]
            if on_revoked is not None:
                on_revoked(tps)
            c.unassign()
            for tp in tps:
                self._pos.pop(tp, None)
                self._paused.discard(tp)

        self._c.subscribe(list(topics), on_assign=assigned, on_revoke=revoked, on_lost=revoked)
        self._subscribed = True

    def group_metadata(self) -> GroupMetadata | None:
        member = self._c.memberid()
        if not member:
            return None
        return GroupMetadata(self._group, member, self._c.consumer_group_metadata())

    def committed(self, tp: TopicPartition, timeout_ms: int = 30_000) -> int | None:
        try:
            (found,) = self._c.committed([_tp(tp)], timeout=timeout_ms / 1000)
        except ck.KafkaException as exc:
            raise _error(exc) from exc
        if found.error is not None:
            raise _error(ck.KafkaException(found.error))
        return found.offset if found.offset >= 0 else None

    # --- reading -----------------------------------------------------------------------

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        self._pos.clear()
        self._paused.clear()
        self._c.assign([_tp(tp) for tp in partitions])

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(p.topic, p.partition) for p in self._c.assignment()}

    def poll(
        self, timeout_ms: int, max_records: int | None = None
    ) -> dict[TopicPartition, list[Record]]:
        limit = max_records or self._max_records
        # Keyed by plain (topic, partition) tuples while taking: equal to, and hashed as,
        # the TopicPartition NamedTuple, but made per message at a fraction of its cost.
        out: dict[tuple[str, int], list[Record]] = {}
        deadline = time.monotonic() + timeout_ms / 1000
        try:
            # Wait for the first message only, then take what is already fetched:
            # ``consume(n, t)`` alone would wait for n records or the whole timeout.
            while True:
                first = self._c.poll(max(0.0, deadline - time.monotonic()))
                if first is None:
                    return {}
                if self._take(first, out):
                    break
                if time.monotonic() >= deadline:
                    return {}
            if limit > 1:
                for msg in self._c.consume(limit - 1, 0):
                    self._take(msg, out)
        except ck.KafkaException as exc:
            raise _error(exc) from exc
        return {TopicPartition(*key): batch for key, batch in out.items()}

    def _take(self, msg: ck.Message, out: dict[tuple[str, int], list[Record]]) -> bool:
        """Add one message to ``out``; False for an event that is no record."""
        err = msg.error()
        topic: str = msg.topic()  # type: ignore[assignment]
        partition: int = msg.partition()  # type: ignore[assignment]
        key = (topic, partition)
        if err is not None:
            if err.code() == _EOF:
                self._pos[key] = msg.offset()  # type: ignore[assignment]
                return False
            if err.fatal():
                raise _error(ck.KafkaException(err))
            log.warning("kafka consumer error", error=err.str(), topic=topic)
            return False
        offset: int = msg.offset()  # type: ignore[assignment]
        self._pos[key] = offset + 1
        batch = out.get(key)
        if batch is None:
            batch = out[key] = []
        batch.append(
            Record(
                topic,
                partition,
                offset,
                msg.key(),
                msg.value(),
                msg.headers() or [],  # type: ignore[arg-type]
                msg.timestamp()[1],
            )
        )
        return True

    def seek(self, tp: TopicPartition, offset: int) -> None:
        deadline = time.monotonic() + 10
        while True:
            try:
                self._c.seek(_tp(tp, offset))
                break
            except ck.KafkaException as exc:
                # librdkafka applies an assignment asynchronously: it refuses to seek a
                # partition that is not fetching yet (_STATE) and drops a seek overtaken
                # by the assignment's own fetch start (_OUTDATED).
                if exc.args[0].code() not in _UNSETTLED or time.monotonic() > deadline:
                    raise _error(exc) from exc
                if not self._subscribed:
                    # Assigned by hand: restart the partition at the offset instead.
                    self._c.incremental_unassign([_tp(tp)])
                    self._c.incremental_assign([_tp(tp, offset)])
                    if tp in self._paused:  # a new assignment forgets the pause
                        self._c.pause([_tp(tp)])
                    break
                time.sleep(0.005)  # a group's assignment: wait until it is fetching
        self._pos[tp] = offset

    def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        for tp, offset in self.beginning_offsets(partitions).items():
            self.seek(tp, offset)

    def seek_to_end(self, *partitions: TopicPartition) -> None:
        for tp, offset in self.end_offsets(partitions).items():
            self.seek(tp, offset)

    def position(self, tp: TopicPartition) -> int:
        known = self._pos.get(tp)
        if known is not None:
            return known
        (found,) = self._c.position([_tp(tp)])
        if found.offset >= 0:
            return int(found.offset)
        committed = self.committed(tp) if self._grouped else None
        if committed is None:
            committed = self.beginning_offsets([tp])[tp]
        self._pos[tp] = committed
        return committed

    def pause(self, *partitions: TopicPartition) -> None:
        if partitions:
            self._c.pause([_tp(tp) for tp in partitions])
            self._paused.update(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        if partitions:
            self._c.resume([_tp(tp) for tp in partitions])
            self._paused.difference_update(partitions)

    # --- offsets and metadata ----------------------------------------------------------

    def _list_offsets(
        self, partitions: Sequence[TopicPartition], spec: Any, isolation: Any
    ) -> dict[TopicPartition, int]:
        if not partitions:
            return {}
        admin = self._admin_client()
        deadline = time.monotonic() + 30
        while True:
            try:
                futures = admin.list_offsets(
                    {_tp(tp): spec for tp in partitions},
                    isolation_level=isolation,
                    request_timeout=30,
                )
                found = {
                    TopicPartition(k.topic, k.partition): int(f.result().offset)
                    for k, f in futures.items()
                }
            except ck.KafkaException as exc:
                # A topic created a moment ago answers NOT_LEADER until its leader is
                # settled; the admin client does not retry that by itself. On a cluster,
                # or after a restart, its metadata may not list the leaders yet or name
                # an old epoch (see _STALE_LEADER).
                error = _error(exc)
                stale = exc.args[0].code() in _STALE_LEADER
                if not (error.retriable or stale) or time.monotonic() > deadline:
                    raise error from exc
                if stale:  # see _STALE_LEADER: ask again over fresh metadata
                    admin = self._admin_client(replacing=admin)
                time.sleep(0.05)
                continue
            unknown = sorted(f"{tp.topic}[{tp.partition}]" for tp, at in found.items() if at < 0)
            if not unknown:
                return found
            # A broker answers an earliest or latest offset with a real one; a negative
            # one (OFFSET_INVALID, -1001, seen right after a broker was killed) means the
            # client did not get an answer. Taken as an offset it made a rebuild wait for
            # ever on an "open transaction" and would end a read to the end before it
            # began: ask again over fresh metadata instead.
            if time.monotonic() > deadline:
                raise KafkaTimeout(f"no offset for {', '.join(unknown)} within 30 s")
            admin = self._admin_client(replacing=admin)
            time.sleep(0.05)

    def _admin_client(self, replacing: AdminClient | None = None) -> AdminClient:
        """The admin client for offset lookups; a new one instead of ``replacing``."""
        with self._lock:
            if self._admin is None or self._admin is replacing:
                self._admin = AdminClient(self._admin_config)
            return self._admin

    def end_offsets(
        self, partitions: Sequence[TopicPartition], stable: bool = True
    ) -> dict[TopicPartition, int]:
        # One ListOffsets for every partition over the admin client's own connection:
        # the consumer's get_watermark_offsets asks one partition at a time behind its
        # in-flight fetch, 10-13 ms each while fetching (132 ms for 12 partitions,
        # against 0.6 ms here): that was most of every event-store read.
        isolation = self._isolation if stable else ck.IsolationLevel.READ_UNCOMMITTED
        return self._list_offsets(partitions, _LATEST, isolation)

    def beginning_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return self._list_offsets(partitions, _EARLIEST, ck.IsolationLevel.READ_UNCOMMITTED)

    def offsets_for_times(
        self, timestamps: Mapping[TopicPartition, int]
    ) -> dict[TopicPartition, int | None]:
        try:
            found = self._c.offsets_for_times(
                [_tp(tp, ms) for tp, ms in timestamps.items()], timeout=30
            )
        except ck.KafkaException as exc:
            raise _error(exc) from exc
        return {
            TopicPartition(f.topic, f.partition): (f.offset if f.offset >= 0 else None)
            for f in found
        }

    def partitions_for_topic(self, topic: str) -> set[int]:
        try:
            found = self._c.list_topics(topic, timeout=10).topics.get(topic)
        except ck.KafkaException as exc:
            raise _error(exc) from exc
        if found is None or found.error is not None:
            return set()
        return set(found.partitions)

    def close(self) -> None:
        self._c.close()


class ConfluentAdmin:
    """The port's :class:`~oms_events.kafka.port.Admin` on ``confluent_kafka.admin``."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._a = AdminClient(config)

    def create_topics(self, topics: Sequence[NewTopic], timeout_s: float = 30.0) -> None:
        if not topics:
            return
        futures = self._a.create_topics(
            [
                CkNewTopic(t.name, t.partitions, t.replication_factor, config=dict(t.config))
                for t in topics
            ],
            request_timeout=timeout_s,
        )
        for f in futures.values():
            try:
                f.result()
            except ck.KafkaException as exc:
                if exc.args[0].code() != ck.KafkaError.TOPIC_ALREADY_EXISTS:
                    raise _error(exc) from exc
        # Created on the controller is not yet known to every broker's metadata:
        # wait, so a consumer made next sees every partition.
        deadline = time.monotonic() + timeout_s
        want = {t.name: t.partitions for t in topics}
        while self.describe_topics(list(want)) != want and time.monotonic() < deadline:
            time.sleep(0.05)

    def describe_topics(self, names: Sequence[str]) -> dict[str, int]:
        try:
            meta = self._a.list_topics(timeout=10).topics
        except ck.KafkaException as exc:
            raise _error(exc) from exc
        return {
            n: len(meta[n].partitions)
            for n in names
            if n in meta and meta[n].error is None and meta[n].partitions
        }

    def topic_configs(self, names: Sequence[str]) -> dict[str, dict[str, str]]:
        if not names:
            return {}
        # DescribeConfigs goes to any node, whose metadata may not know a topic another
        # node created a moment ago (UNKNOWN_TOPIC_OR_PART on a three-node cluster, right
        # after `apply_topics`): asked again until it does, for as long as creation waits.
        deadline = time.monotonic() + 30
        while True:
            resources = [ConfigResource(ResourceType.TOPIC, n) for n in names]
            futures = self._a.describe_configs(resources)
            try:
                return {
                    resource.name: {k: v.value for k, v in f.result().items()}
                    for resource, f in futures.items()
                }
            except ck.KafkaException as exc:
                unknown = exc.args[0].code() == ck.KafkaError.UNKNOWN_TOPIC_OR_PART
                if not unknown or time.monotonic() > deadline:
                    raise _error(exc) from exc
                time.sleep(0.1)

    def set_topic_config(self, name: str, config: Mapping[str, str]) -> None:
        entries = [
            ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
            for k, v in config.items()
        ]
        resource = ConfigResource(ResourceType.TOPIC, name, incremental_configs=entries)
        try:
            for f in self._a.incremental_alter_configs([resource]).values():
                f.result()
        except ck.KafkaException as exc:
            raise _error(exc) from exc

    def list_topics(self) -> set[str]:
        try:
            return set(self._a.list_topics(timeout=10).topics)
        except ck.KafkaException as exc:
            raise _error(exc) from exc

    def broker_count(self) -> int:
        try:
            return len(self._a.list_topics(timeout=10).brokers)
        except ck.KafkaException as exc:
            raise _error(exc) from exc

    def delete_topics(self, names: Sequence[str], timeout_s: float = 30.0) -> None:
        if not names:
            return
        for f in self._a.delete_topics(list(names), operation_timeout=timeout_s).values():
            try:
                f.result()
            except ck.KafkaException as exc:
                if exc.args[0].code() != ck.KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise _error(exc) from exc

    def create_acls(self, rules: Sequence[AclRule]) -> None:
        if not rules:
            return
        bindings = [
            AclBinding(
                rule.resource.upper(),
                rule.name,
                ResourcePatternType.PREFIXED if rule.prefixed else ResourcePatternType.LITERAL,
                f"User:{rule.principal}",
                "*",
                rule.operation.upper(),
                AclPermissionType.ALLOW,
            )
            for rule in rules
        ]
        for f in self._a.create_acls(bindings, request_timeout=30).values():
            try:
                f.result()
            except ck.KafkaException as exc:
                raise _error(exc) from exc

    def acls(self) -> set[AclRule]:
        # None matches any name, principal and host (the filter's documented meaning;
        # the type hints say str).
        every = AclBindingFilter(
            ResourceType.ANY,
            None,  # type: ignore[arg-type]
            ResourcePatternType.ANY,
            None,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            AclOperation.ANY,
            AclPermissionType.ALLOW,
        )
        try:
            bindings = self._a.describe_acls(every, request_timeout=30).result()
        except ck.KafkaException as exc:
            raise _error(exc) from exc
        return {
            AclRule(
                b.principal.removeprefix("User:"),
                b.restype.name.lower(),
                b.name,
                b.operation.name.lower(),
                b.resource_pattern_type == ResourcePatternType.PREFIXED,
            )
            for b in bindings
            if b.restype.name.lower() in ACL_RESOURCES
        }

    def set_scram_credentials(self, passwords: Mapping[str, str], mechanism: str) -> None:
        info = ScramCredentialInfo(ScramMechanism[mechanism.replace("-", "_")], 4096)
        upserts: list[UserScramCredentialAlteration] = [
            UserScramCredentialUpsertion(user, info, password.encode())
            for user, password in passwords.items()
        ]
        for f in self._a.alter_user_scram_credentials(upserts, request_timeout=30).values():
            try:
                f.result()
            except ck.KafkaException as exc:
                raise _error(exc) from exc

    def close(self) -> None:
        """Nothing to release: the admin client has no close."""


class ConfluentClients:
    """Builds confluent-kafka clients for one cluster."""

    name = "confluent"

    def __init__(self, bootstrap_servers: str, security: ClientSecurity = PLAINTEXT) -> None:
        self._base: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            **security.librdkafka(),
            # librdkafka's log lines through our logging (see the module doc)
            "logger": LIBRDKAFKA,
            # No re-bootstrap when every known broker is down (a broker restart): with it,
            # librdkafka decommissions the learned broker handles while the group and
            # transaction coordinators stay cached on them, and a transactional producer
            # that outlived the outage then waits in send_offsets_to_transaction for a
            # coordinator that never comes up, past its timeout, for good (librdkafka
            # #5511, open in 2.16). Without it the clients reconnect to the brokers they
            # know, which are the bootstrap servers of every deployment of ours.
            "metadata.recovery.strategy": "none",
            # A partition's leader learned just before its broker died stays cached until
            # the next periodic refresh (librdkafka's default: 300 s): a consumer assigned
            # such a partition meanwhile fetches from the dead node, reconnecting to it in
            # a loop, and reads nothing. On the three-node cluster every broker-loss run
            # waited those 300 s (issue 20). Ten seconds bounds it at a metadata request
            # per client every ten seconds.
            "topic.metadata.refresh.interval.ms": METADATA_REFRESH_MS,
        }

    def producer(
        self,
        *,
        transactional_id: str | None = None,
        transaction_timeout_ms: int = 60_000,
        linger_ms: int = 5,
        client_id: str | None = None,
    ) -> ConfluentProducer:
        config: dict[str, Any] = {
            **self._base,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": linger_ms,
            "partitioner": "murmur2_random",  # Java's default: see the module doc
            "batch.size": 1024 * 1024,
        }
        if client_id:
            config["client.id"] = client_id
        if transactional_id:
            config["transactional.id"] = transactional_id
            config["transaction.timeout.ms"] = transaction_timeout_ms
            # A transaction begun right after a commit gets CONCURRENT_TRANSACTIONS until
            # the last one's markers are written; librdkafka retries after
            # retry.backoff.ms (100 ms, doubling): that doubled the time per transaction.
            config["retry.backoff.ms"] = 5
            config["retry.backoff.max.ms"] = 100
        return ConfluentProducer(config)

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
    ) -> ConfluentConsumer:
        config: dict[str, Any] = {
            **self._base,
            # librdkafka needs a group id even to assign partitions by hand; a
            # group-less consumer never joins nor commits, so the name is inert.
            "group.id": group_id or "oms-groupless",
            "isolation.level": isolation,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,  # positions past markers: see the module doc
            "fetch.wait.max.ms": fetch_max_wait_ms,
            "fetch.max.bytes": fetch_max_bytes,
            "max.partition.fetch.bytes": max_partition_fetch_bytes,
            "session.timeout.ms": session_timeout_ms,
            "heartbeat.interval.ms": heartbeat_interval_ms,
            "max.poll.interval.ms": max_poll_interval_ms,
            "partition.assignment.strategy": "range",  # eager, as the processor expects
        }
        if client_id:
            config["client.id"] = client_id
        if group_instance_id:
            config["group.instance.id"] = group_instance_id
        return ConfluentConsumer(
            config, dict(self._base), grouped=group_id is not None, max_records=max_poll_records
        )

    def admin(self) -> ConfluentAdmin:
        return ConfluentAdmin(dict(self._base))
