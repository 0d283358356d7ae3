"""The Kafka port's contract, on the real broker, for every client implementation.

Each test runs once per implementation (``confluent``, the default, and
``kafka-python``): what exactly-once rests on (transactions, read_committed,
offsets inside the transaction, KIP-447 fencing), where keyed records land, and the
reading semantics the engine relies on (positions past transaction markers, stable
and log-end offsets).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from oms_events.kafka.connection import clients, read_to_end_with
from oms_events.kafka.errors import KafkaError
from oms_events.kafka.port import (
    AclRule,
    Clients,
    Consumer,
    GroupMetadata,
    NewTopic,
    Record,
    TopicPartition,
)
from oms_events.settings import Settings

IMPLEMENTATIONS = ("confluent", "kafka-python")


@pytest.fixture(params=IMPLEMENTATIONS)
def kafka(request: pytest.FixtureRequest, isolated: Settings) -> Clients:
    """The clients of one implementation, on the isolated settings."""
    return clients(isolated.replace(kafka={"client": request.param}))


@pytest.fixture
def new_topic(kafka: Clients, isolated: Settings) -> Iterator[object]:
    made: list[str] = []

    def make(partitions: int = 1) -> str:
        name = f"{isolated.kafka.topic_prefix}contract-{uuid.uuid4().hex[:8]}"
        admin = kafka.admin()
        try:
            admin.create_topics([NewTopic(name, partitions)])
        finally:
            admin.close()
        made.append(name)
        return name

    yield make


def read_all(kafka: Clients, topic: str, isolation: str = "read_committed") -> list[Record]:
    """Every record of ``topic`` up to its end, partition by partition."""
    c = kafka.consumer(isolation=isolation, fetch_max_wait_ms=10)  # type: ignore[arg-type]
    try:
        # settle_s: a read right after a commit waits for the commit's markers.
        return read_to_end_with(c, topic, settle_s=10, timeout_s=30)
    finally:
        c.close()


def java_murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2`` as the Java client computes it (signed 32-bit)."""
    m, r = 0x5BD1E995, 24
    h = 0x9747B28C ^ len(data)
    n = len(data) // 4
    for i in range(n):
        k = int.from_bytes(data[4 * i : 4 * i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    rest = data[4 * n :]
    if len(rest) == 3:
        h ^= rest[2] << 16
    if len(rest) >= 2:
        h ^= rest[1] << 8
    if rest:
        h ^= rest[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def test_the_reference_murmur2_is_javas() -> None:
    # Vectors of Kafka's own UtilsTest.testMurmur2.
    assert java_murmur2(b"21") == -973932308
    assert java_murmur2(b"foobar") == -790332482
    assert java_murmur2(b"a-little-bit-long-string") == -985981536
    assert java_murmur2(b"a-little-bit-longer-string") == -1486304829
    assert java_murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971
    assert java_murmur2(b"abc") == 479470107


def test_a_committed_transaction_is_read_back(kafka: Clients, new_topic) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic()
    p = kafka.producer(transactional_id=f"test-{uuid.uuid4()}")
    p.init_transactions()
    p.begin_transaction()
    for i in range(3):
        p.send(topic, f"event-{i}".encode(), key=b"order-1")
    p.commit_transaction()
    p.close()
    assert [r.value for r in read_all(kafka, topic)] == [b"event-0", b"event-1", b"event-2"]


def test_read_committed_hides_aborted_records(kafka: Clients, new_topic) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic()
    p = kafka.producer(transactional_id=f"test-{uuid.uuid4()}")
    p.init_transactions()
    p.begin_transaction()
    p.send(topic, b"aborted")
    p.flush()  # the record is on the log: only its transaction marker decides
    p.abort_transaction()
    p.begin_transaction()
    p.send(topic, b"committed")
    p.commit_transaction()
    p.close()
    assert [r.value for r in read_all(kafka, topic)] == [b"committed"]
    assert b"aborted" in [r.value for r in read_all(kafka, topic, "read_uncommitted")]


def test_an_open_transaction_holds_the_stable_offset_back(kafka: Clients, new_topic) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic()
    tp = TopicPartition(topic, 0)
    p = kafka.producer(transactional_id=f"test-{uuid.uuid4()}")
    p.init_transactions()
    p.begin_transaction()
    p.send(topic, b"first")
    p.commit_transaction()
    c = kafka.consumer()
    try:
        # Its marker written: the stable offset below is the open transaction's doing.
        assert [r.value for r in read_to_end_with(c, topic, settle_s=10)] == [b"first"]
        p.begin_transaction()
        p.send(topic, b"open")
        p.flush()
        stable = c.end_offsets([tp])[tp]
        log_end = c.end_offsets([tp], stable=False)[tp]
        assert stable < log_end  # the open record is past the last stable offset
        c.assign([tp])
        c.seek_to_beginning(tp)
        seen: list[bytes | None] = []
        deadline = time.monotonic() + 30
        while c.position(tp) < stable:  # reachable although a commit marker follows
            assert time.monotonic() < deadline
            seen += [r.value for rs in c.poll(timeout_ms=500).values() for r in rs]
        assert seen == [b"first"]
        p.commit_transaction()
        # The broker writes the commit marker after EndTxn returns: wait for it, then
        # the reader's position moves past the marker to the new end.
        while (end := c.end_offsets([tp])[tp]) != c.end_offsets([tp], stable=False)[tp]:
            assert time.monotonic() < deadline, "the commit marker was never written"
            time.sleep(0.01)
        while c.position(tp) < end:
            assert time.monotonic() < deadline
            seen += [r.value for rs in c.poll(timeout_ms=500).values() for r in rs]
        assert seen == [b"first", b"open"]
        assert c.position(tp) == end
    finally:
        c.close()
        p.close()


def test_consumed_offsets_commit_with_the_transaction(kafka: Clients, new_topic) -> None:  # type: ignore[no-untyped-def]
    source, sink = new_topic(), new_topic()
    tp = TopicPartition(source, 0)
    plain = kafka.producer()
    for i in range(5):
        plain.send(source, str(i).encode())
    plain.flush()
    plain.close()

    group = f"g-{uuid.uuid4().hex[:8]}"
    c = kafka.consumer(group_id=group, session_timeout_ms=6000, heartbeat_interval_ms=1000)
    assigned: list[list[TopicPartition]] = []
    c.subscribe([source], on_assigned=assigned.append)
    batch: list[Record] = []
    deadline = time.monotonic() + 30
    while len(batch) < 5:
        assert time.monotonic() < deadline, "the group never delivered the records"
        for records in c.poll(timeout_ms=500).values():
            batch.extend(records)
    assert assigned and tp in assigned[-1]
    assert c.committed(tp) is None
    owner = c.group_metadata()
    assert owner is not None

    tx = kafka.producer(transactional_id=f"test-{uuid.uuid4()}")
    tx.init_transactions()
    tx.begin_transaction()
    for r in batch:
        tx.send(sink, (r.value or b"") + b"!")
    tx.send_offsets_to_transaction({tp: batch[-1].offset + 1}, owner)
    tx.commit_transaction()
    tx.close()
    assert c.committed(tp) == 5
    c.close()
    assert [r.value for r in read_all(kafka, sink)] == [b"0!", b"1!", b"2!", b"3!", b"4!"]


def _member(kafka: Clients, group: str, topic: str) -> tuple[Consumer, list[list[int]]]:
    c = kafka.consumer(
        group_id=group,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        max_poll_interval_ms=20_000,
    )
    assigned: list[list[int]] = []
    c.subscribe([topic], on_assigned=lambda tps: assigned.append(sorted(t.partition for t in tps)))
    return c, assigned


def test_a_zombie_is_fenced_after_a_rebalance(kafka: Clients, new_topic) -> None:  # type: ignore[no-untyped-def]
    """KIP-447: offsets sent with the membership of an older generation are refused,
    so a member that missed a rebalance cannot commit its transaction."""
    source, sink = new_topic(2), new_topic()
    group = f"g-{uuid.uuid4().hex[:8]}"
    zombie, zombie_assigned = _member(kafka, group, source)
    deadline = time.monotonic() + 30
    while not zombie_assigned or zombie_assigned[-1] != [0, 1]:
        assert time.monotonic() < deadline, "the first member never got its partitions"
        zombie.poll(timeout_ms=200)
    stale: GroupMetadata | None = zombie.group_metadata()
    assert stale is not None

    # A second member joins: a new generation splits the partitions between them. Each
    # member polls on a thread of its own, as members of a group are separate processes:
    # kafka-python's poll waits inside a JoinGroup until every member has joined, and one
    # thread polling both waited out the rebalance timeout twice (40 s).
    newcomer, newcomer_assigned = _member(kafka, group, source)
    rebalanced = threading.Event()

    def poll_until_rebalanced(member: Consumer) -> None:
        while not rebalanced.is_set() and time.monotonic() < deadline:
            member.poll(timeout_ms=100)

    pollers = [
        threading.Thread(target=poll_until_rebalanced, args=(m,)) for m in (zombie, newcomer)
    ]
    try:
        for poller in pollers:
            poller.start()
        while not (newcomer_assigned and newcomer_assigned[-1] and len(zombie_assigned) > 1):
            assert time.monotonic() < deadline, (zombie_assigned, newcomer_assigned)
            time.sleep(0.05)
        rebalanced.set()
        for poller in pollers:
            poller.join()

        tx = kafka.producer(transactional_id=f"zombie-{uuid.uuid4()}")
        tx.init_transactions()
        tx.begin_transaction()
        tx.send(sink, b"from the zombie")
        with pytest.raises(KafkaError):
            tx.send_offsets_to_transaction({TopicPartition(source, 0): 1}, stale)
            tx.commit_transaction()
        tx.abort_transaction()
        tx.close()
        assert read_all(kafka, sink) == []
        assert newcomer.committed(TopicPartition(source, 0)) is None
    finally:
        rebalanced.set()
        for poller in pollers:
            if poller.is_alive():
                poller.join()
        newcomer.close()
        zombie.close()


@pytest.mark.parametrize("writer", IMPLEMENTATIONS)
def test_keyed_records_land_where_javas_partitioner_puts_them(
    kafka: Clients,
    new_topic,  # type: ignore[no-untyped-def]
    isolated: Settings,
    writer: str,
) -> None:
    """Written by either client, read by this one: a key's partition is Java's."""
    topic = new_topic(6)
    p = clients(isolated.replace(kafka={"client": writer})).producer()
    keys = [f"order-{i}".encode() for i in range(60)] + [uuid.uuid4().bytes for _ in range(40)]
    for key in keys:
        p.send(topic, b"v", key=key)
    p.flush()
    p.close()
    landed = {r.key: r.partition for r in read_all(kafka, topic)}
    assert landed == {k: (java_murmur2(k) & 0x7FFFFFFF) % 6 for k in keys}
    assert len(set(landed.values())) == 6  # a real spread, not one partition


def test_headers_key_and_timestamp_round_trip(kafka: Clients, new_topic) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic(3)
    headers = [("event", b"OrderPlaced"), ("command_id", b"c-1"), ("command_id", b"c-2")]
    before = int(time.time() * 1000)
    p = kafka.producer()
    meta = p.send(topic, b"payload", key=b"k-1", partition=2, headers=headers).get()
    p.close()
    assert (meta.topic, meta.partition, meta.offset) == (topic, 2, 0)
    (record,) = read_all(kafka, topic)
    assert (record.partition, record.offset, record.key, record.value) == (2, 0, b"k-1", b"payload")
    assert record.headers == headers
    assert before - 1000 <= record.timestamp <= int(time.time() * 1000) + 1000


def test_pause_seek_and_resume(kafka: Clients, new_topic) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic()
    tp = TopicPartition(topic, 0)
    p = kafka.producer()
    for i in range(10):
        p.send(topic, str(i).encode())
    p.flush()
    c = kafka.consumer()
    try:
        c.assign([tp])
        c.pause(tp)
        c.seek(tp, 7)
        assert c.poll(timeout_ms=300) == {}
        c.resume(tp)
        got: list[bytes | None] = []
        deadline = time.monotonic() + 30
        while len(got) < 3:
            assert time.monotonic() < deadline
            got += [r.value for rs in c.poll(timeout_ms=500).values() for r in rs]
        assert got == [b"7", b"8", b"9"]
        c.seek_to_end(tp)
        p.send(topic, b"after the end")
        p.flush()
        later: list[bytes | None] = []
        while not later:
            assert time.monotonic() < deadline
            later = [r.value for rs in c.poll(timeout_ms=500).values() for r in rs]
        assert later == [b"after the end"]
        assert c.beginning_offsets([tp]) == {tp: 0}
    finally:
        c.close()
        p.close()


def test_admin_creates_describes_configures_and_deletes(kafka: Clients, isolated: Settings) -> None:
    name = f"{isolated.kafka.topic_prefix}contract-admin-{uuid.uuid4().hex[:6]}"
    admin = kafka.admin()
    try:
        admin.create_topics([NewTopic(name, 3, 1, {"cleanup.policy": "compact"})])
        assert admin.describe_topics([name, name + "-missing"]) == {name: 3}
        assert name in admin.list_topics()
        assert admin.topic_configs([name])[name]["cleanup.policy"] == "compact"
        admin.set_topic_config(name, {"retention.ms": "604800000"})
        deadline = time.monotonic() + 15  # brokers apply the change within moments
        while admin.topic_configs([name])[name]["retention.ms"] != "604800000":
            assert time.monotonic() < deadline, "the retention was never set"
            time.sleep(0.2)
        assert admin.topic_configs([name])[name]["cleanup.policy"] == "compact"  # kept
        admin.delete_topics([name])
        deadline = time.monotonic() + 30
        while name in admin.list_topics():
            assert time.monotonic() < deadline, "the topic was never deleted"
            time.sleep(0.2)
    finally:
        admin.close()


def test_acl_rules_written_are_read_back(kafka: Clients) -> None:
    # Fixed names: written again each run, the broker's rules do not grow.
    rules = [
        AclRule("analyst", "topic", "contract-acl", "read"),
        AclRule("engine", "group", "contract-acl-", "read", prefixed=True),
        AclRule("intake", "transactional_id", "contract-acl-", "write", prefixed=True),
    ]
    admin = kafka.admin()
    try:
        admin.create_acls(rules)
        deadline = time.monotonic() + 30
        while missing := set(rules) - admin.acls():  # the broker applies them a moment later
            assert time.monotonic() < deadline, f"never read back: {missing}"
            time.sleep(0.2)
    finally:
        admin.close()


def test_offsets_for_times_finds_the_first_record_at_or_after_an_instant(
    kafka: Clients,
    new_topic,  # type: ignore[no-untyped-def]
) -> None:
    topic = new_topic()
    tp = TopicPartition(topic, 0)
    p = kafka.producer()
    first = p.send(topic, b"early").get()
    time.sleep(0.05)
    middle = int(time.time() * 1000)
    later = p.send(topic, b"late").get()
    p.close()
    c = kafka.consumer()
    try:
        assert c.offsets_for_times({tp: 0}) == {tp: first.offset}
        assert c.offsets_for_times({tp: middle}) == {tp: later.offset}
        assert c.offsets_for_times({tp: int(time.time() * 1000) + 60_000}) == {tp: None}
    finally:
        c.close()
