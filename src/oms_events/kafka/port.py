"""The Kafka port: what the project needs from a Kafka client, and nothing more.

Two implementations sit behind it, chosen by ``settings.kafka.client``
(``connection.clients``): ``confluent`` (librdkafka, the default) and
``kafka-python``. Only those two modules import a client library; everything else
speaks these types: :class:`TopicPartition`, :class:`Record`, a transactional
:class:`Producer`, a read_committed :class:`Consumer` and an :class:`Admin`.

Semantics both implementations keep (the contract suite, tests/integration/kafka,
proves them on the real broker):

* ``Consumer.position`` is the offset of the next record to read, and it moves past
  transaction markers and aborted records: a reader is at the end of a partition
  exactly when ``position >= end_offsets()[tp]``. (With librdkafka the last marker is
  passed when an empty fetch at the end returns, after ``fetch_max_wait_ms``: readers
  waiting for an end use ``connection.READ_TO_END_WAIT_MS``.)
* ``end_offsets(stable=True)`` is the last stable offset (what read_committed
  readers can reach); ``stable=False`` is the log end, open transactions included.
* Keyed records without an explicit partition land where Java's default
  partitioner puts them (murmur2, see ``partitioner.py``).
* Rebalance callbacks run only inside ``poll``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol

Headers = list[tuple[str, bytes]]
Isolation = Literal["read_committed", "read_uncommitted"]


class TopicPartition(NamedTuple):
    """One partition of one topic."""

    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class Record:
    """One consumed record. ``timestamp`` is epoch milliseconds."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    timestamp: int


@dataclass(frozen=True, slots=True)
class RecordMetadata:
    """Where a produced record was written."""

    topic: str
    partition: int
    offset: int


class Delivery(Protocol):
    """The outcome of one ``send``, known once the record is acknowledged."""

    def get(self, timeout_s: float = 30.0) -> RecordMetadata:
        """Wait for the acknowledgement; raises :class:`KafkaError` on failure."""
        ...


@dataclass(frozen=True)
class GroupMetadata:
    """A consumer's group membership at one moment (KIP-447): offsets sent with it
    into a transaction are refused once the group moved to another generation."""

    group_id: str
    member_id: str
    raw: object = field(repr=False)  # the client's own metadata object


@dataclass(frozen=True)
class NewTopic:
    """A topic to create."""

    name: str
    partitions: int
    replication_factor: int = 1
    config: Mapping[str, str] = field(default_factory=dict)


Rebalance = Callable[[list[TopicPartition]], None]


class Producer(Protocol):
    """An idempotent producer (acks=all), transactional when given a transactional id."""

    def init_transactions(self, timeout_s: float = 30.0) -> None:
        """Register the transactional id, fencing older producers with it and aborting
        what they left open."""
        ...

    def begin_transaction(self) -> None:
        """Open a transaction."""
        ...

    def send(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Headers | None = None,
    ) -> Delivery:
        """Queue one record (murmur2 partitioning of ``key`` unless ``partition``)."""
        ...

    def send_offsets_to_transaction(
        self,
        offsets: Mapping[TopicPartition, int],
        group: GroupMetadata,
        timeout_s: float = 30.0,
    ) -> None:
        """Commit these next-offsets of ``group`` with the open transaction. Returns or
        raises within about ``timeout_s``; a producer whose call got no answer by then
        is given up on (every later call raises): close it and make another."""
        ...

    def commit_transaction(self, timeout_s: float = 60.0) -> None:
        """Flush and commit; raises TransactionAborted / ProducerFenced when it cannot."""
        ...

    def abort_transaction(self, timeout_s: float = 60.0) -> None:
        """Abort the open transaction (its records stay invisible to read_committed)."""
        ...

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until every queued record is acknowledged."""
        ...

    def close(self, timeout_s: float = 5.0) -> None:
        """Flush what is queued (up to the timeout) and release the client, without
        waiting longer: what a transactional producer still holds after the flush
        belongs to a transaction that did not commit and is dropped."""
        ...


class Consumer(Protocol):
    """A consumer (read_committed unless told otherwise) that never auto-commits."""

    def subscribe(
        self,
        topics: Sequence[str],
        on_assigned: Rebalance | None = None,
        on_revoked: Rebalance | None = None,
    ) -> None:
        """Join the consumer group for ``topics``; callbacks run inside ``poll``."""
        ...

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        """Read these partitions, without a group (replaces any previous assignment)."""
        ...

    def assignment(self) -> set[TopicPartition]:
        """The partitions currently assigned."""
        ...

    def poll(
        self, timeout_ms: int, max_records: int | None = None
    ) -> dict[TopicPartition, list[Record]]:
        """Records by partition: waits up to ``timeout_ms`` for the first, then returns
        what is already fetched."""
        ...

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Read ``tp`` from ``offset`` next."""
        ...

    def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        """Read these partitions from their first offset."""
        ...

    def seek_to_end(self, *partitions: TopicPartition) -> None:
        """Read only what comes after the current end (last stable offset)."""
        ...

    def position(self, tp: TopicPartition) -> int:
        """The offset of the next record this consumer will return for ``tp``."""
        ...

    def pause(self, *partitions: TopicPartition) -> None:
        """Stop fetching these partitions (they stay assigned)."""
        ...

    def resume(self, *partitions: TopicPartition) -> None:
        """Fetch these partitions again."""
        ...

    def committed(self, tp: TopicPartition, timeout_ms: int = 30_000) -> int | None:
        """The group's committed offset of ``tp`` (None if none), waiting while a
        transaction holding offsets for it is open; KafkaTimeout past ``timeout_ms``."""
        ...

    def end_offsets(
        self, partitions: Sequence[TopicPartition], stable: bool = True
    ) -> dict[TopicPartition, int]:
        """Last stable offsets (``stable``) or log-end offsets of ``partitions``."""
        ...

    def beginning_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """First offsets still on the log."""
        ...

    def offsets_for_times(
        self, timestamps: Mapping[TopicPartition, int]
    ) -> dict[TopicPartition, int | None]:
        """Per partition, the first offset whose timestamp (epoch ms) is at or after the
        one given; None when there is none."""
        ...

    def partitions_for_topic(self, topic: str) -> set[int]:
        """The topic's partition numbers (empty when the topic does not exist)."""
        ...

    def group_metadata(self) -> GroupMetadata | None:
        """The membership now, for ``send_offsets_to_transaction``; None when not a
        member of a generation (never joined, or evicted)."""
        ...

    def close(self) -> None:
        """Leave the group (at once, not after a session timeout) and release the client."""
        ...


# What AclRule.resource can name (a cluster also holds cluster and user ACLs).
ACL_RESOURCES = frozenset({"topic", "group", "transactional_id"})


@dataclass(frozen=True)
class AclRule:
    """One ALLOW rule: ``principal`` may do ``operation`` on the resource ``name`` (the
    name exactly, or every name starting with it when ``prefixed``), from any host."""

    principal: str  # a user name; the rule is for User:<principal>
    resource: Literal["topic", "group", "transactional_id"]
    name: str
    operation: Literal["read", "write", "describe", "describe_configs"]
    prefixed: bool = False


class Admin(Protocol):
    """Topic and access administration."""

    def create_topics(self, topics: Sequence[NewTopic], timeout_s: float = 30.0) -> None:
        """Create topics and wait until their metadata is visible."""
        ...

    def describe_topics(self, names: Sequence[str]) -> dict[str, int]:
        """Partition count of each existing topic among ``names``."""
        ...

    def topic_configs(self, names: Sequence[str]) -> dict[str, dict[str, str]]:
        """Every configuration value of each topic (defaults included)."""
        ...

    def set_topic_config(self, name: str, config: Mapping[str, str]) -> None:
        """Set these configuration values of a topic, leaving the others as they are."""
        ...

    def list_topics(self) -> set[str]:
        """Every topic's name."""
        ...

    def broker_count(self) -> int:
        """Brokers of the cluster serving now (a stopped one is not counted)."""
        ...

    def delete_topics(self, names: Sequence[str], timeout_s: float = 30.0) -> None:
        """Delete topics (missing ones are ignored)."""
        ...

    def create_acls(self, rules: Sequence[AclRule]) -> None:
        """Add ALLOW rules (rules that exist already are kept as they are)."""
        ...

    def acls(self) -> set[AclRule]:
        """Every ALLOW rule the cluster holds for topics, groups and transactional ids
        (as the broker answering sees them)."""
        ...

    def set_scram_credentials(self, passwords: Mapping[str, str], mechanism: str) -> None:
        """Create or replace the SCRAM credential of each user (user -> password)."""
        ...

    def close(self) -> None:
        """Release the client."""
        ...


class Clients(Protocol):
    """One client implementation: builds producers, consumers and admins."""

    name: str

    def producer(
        self,
        *,
        transactional_id: str | None = None,
        transaction_timeout_ms: int = 60_000,
        linger_ms: int = 5,
        client_id: str | None = None,
    ) -> Producer:
        """A producer; transactional when ``transactional_id`` is given."""
        ...

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
    ) -> Consumer:
        """A consumer that never commits by itself and starts at the earliest offset."""
        ...

    def admin(self) -> Admin:
        """An admin client."""
        ...
