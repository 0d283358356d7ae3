"""The partitioned consume-process-produce loop that every service runs in: the
engine's processors and the channel intake (``intake/adapter.py``) alike.

One :class:`Processor` is one consumer-group member for one service. Per batch of
commands it opens a Kafka transaction, lets the service handle each command against
the in-memory aggregates of its partition, sends what the service wrote (events,
replies, follow-up commands, dead letters) and the consumed offsets, and commits:
all of it becomes visible to read_committed readers at once, or none of it.

Fencing (why a zombie's writes never show): KIP-447 group-metadata fencing. Every
transaction carries the positions of *all* partitions this member owns, sent with
``consumer.group_metadata()``; the group coordinator refuses them once the group
has moved on to a generation without this member, the transaction can only abort,
and the member drops its state. One transactional producer per processor (not one
per input partition) is enough, so one transaction spans every partition a member
owns and batches stay large. The transactional id is unique per process start and
so is never shared with a live instance.

Ordering on assignment, which is what keeps a new owner exact: pause the partition,
read its committed offset with ``require_stable`` (both clients ask for it under
read_committed; it waits while a previous owner's transaction that already holds
offsets is still open), wait until the events partition has no open transaction
either (a committed transaction's markers reach its partitions one at a time, so
stable offsets do not yet mean stable events; see ``_events_settled``), *then*
replay the events partition up to its last stable offset, then resume. An older
owner's transaction that was still open there is decided by then: committed (and
replayed) or aborted by the broker after the transaction timeout (fenced above).

Kafka is reached through the port (``oms_events.kafka.port``), whichever client
implements it. Rebalance callbacks run only inside ``poll``, never inside
``committed`` or ``position``.

One record's fate (decode, route, deduplicate, apply, dead-letter or reply) is the
pure ``handling.Step`` (or the step a service brings, as the intake does); this
module only adds Kafka around it.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable

import structlog

from oms_events import topics, waits
from oms_events.avro.codec import Codec
from oms_events.avro.registry import RegistryError
from oms_events.deadletter import WHOLE, Reason
from oms_events.engine import bundles, snapshots
from oms_events.engine.handling import Outcome, Step, dead_letter
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition, rebuild
from oms_events.engine.quarantine import Quarantine
from oms_events.engine.service import Service
from oms_events.engine.snapshots import Settlement
from oms_events.kafka.connection import consumer, producer
from oms_events.kafka.errors import (
    KafkaError,
    KafkaTimeout,
    KafkaUnavailable,
    TransactionAborted,
)
from oms_events.kafka.port import Consumer, GroupMetadata, Producer, Record, TopicPartition
from oms_events.privacy.keystore import KeyStoreUnavailable
from oms_events.privacy.vault import sealing
from oms_events.recovery import Backoff
from oms_events.settings import Settings

log = structlog.get_logger(__name__)

# One record's fate: handled against its partition's state, output to the outbox.
RecordStep = Callable[[Record, Partition, Outbox], Outcome]


class Processor(threading.Thread):
    """Runs one service as one member of its consumer group until ``stop`` is set."""

    def __init__(
        self,
        service: Service,
        settings: Settings,
        codec: Codec,
        stop: threading.Event,
        step: RecordStep | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock`` is the time the timers judge by (seconds since the epoch): the wall
        clock, or a what-if's replay clock (the recorded time of the record replayed)."""
        super().__init__(name=f"processor-{service.name}", daemon=True)
        self.service = service
        self.settings = settings
        self.engine = settings.engine
        self.codec = codec
        self.sealing = sealing(codec)  # the key batch of each transaction
        self.stop_event = stop
        self.group = f"{settings.kafka.topic_prefix}{settings.engine.group}.{service.name}"
        self.input_topic = topics.name(settings, service.input_topic())
        self.events_topic = (
            topics.name(settings, topics.events(service.aggregate_type))
            if service.aggregate_type
            else None
        )
        self.step: RecordStep = step or Step(service, settings, codec)
        self.partitions: dict[int, Partition] = {}
        self.pending: set[TopicPartition] = set()
        self.rebalanced = False
        self.membership: GroupMetadata | None = None  # of the current assignment
        self.error: BaseException | None = None
        self.stats = {
            "commands": 0,
            "events": 0,
            "transactions": 0,
            "dead_letters": 0,
            "duplicates": 0,
            "rejected": 0,
            "aborts": 0,
            "outages": 0,  # Kafka errors outside a transaction, waited out
            "snapshots": 0,
            "left_memory": 0,
            "loads": 0,
        }
        # Where a processor's time goes: handling commands vs. sending and committing.
        self.timings = {"handle_s": 0.0, "commit_s": 0.0}
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None
        self._replay: Consumer | None = None  # group-less: replays and log ends
        self._unsettled: set[int] = set()  # events partitions waited on (logged once)
        self._outside_since: float | None = None  # since when not a member (see _membership)
        self._next_tick = 0.0
        self.clock = clock
        # Looks of the timers completed (their transaction, if any, committed): a what-if
        # replay waits for a whole look after the fork settles, so timers fire where the
        # recorded time says, not when the loop happens to run.
        self.timer_looks = 0
        # A record that fails every transaction it is in is found and dead-lettered.
        self.quarantine = Quarantine(settings.engine.poison_attempts, settings.engine.batch_size)
        self._in_flight: list[Record] = []  # the input records of the open transaction
        self.log = log.bind(processor=service.name)

    # --- lifecycle -------------------------------------------------------------------

    def run(self) -> None:
        """The loop; a Kafka outage is waited out (see :meth:`_survive`), any other
        unexpected error stops this processor and is kept in ``error``."""
        try:
            self._survive()
            self._final_snapshots()
        except RegistryError as exc:  # an operator's problem: one line, no traceback
            self.error = exc
            self.log.error("processor stopped by the schema registry", error=str(exc))
        except BaseException as exc:  # the runner reports it and stops the engine
            self.error = exc
            self.log.exception("processor failed")
        finally:
            self._close()

    def _survive(self) -> None:
        # A Kafka error outside a transaction (the broker gone for longer than the
        # clients' own retries, a producer fenced while re-initializing): log "waiting
        # for Kafka", drop every client and all partition state, and join the group
        # again after a capped exponential backoff. Exactly-once rests on what a new
        # member does anyway: offsets committed with the transactions, state rebuilt
        # from the committed events.
        board = waits.WaitBoard(waits.folder(self.settings), self.service.name)
        backoff = Backoff(self.settings.recovery, self.stop_event.is_set, board)
        while not self.stop_event.is_set():
            try:
                if self._consumer is None:
                    self._open()
                self._iterate()
                backoff.recovered()
            except (KafkaError, KafkaUnavailable) as exc:
                self._drop_clients()
                backoff.wait("Kafka", exc)
            except KeyStoreUnavailable as exc:
                # Records cannot be sealed or opened: the open transaction is dropped
                # with the clients and the batch read again from committed offsets.
                self._drop_clients()
                backoff.wait("PostgreSQL key store", exc)

    def _iterate(self) -> None:
        batch = self._collect()
        self._membership()
        if batch and self.quarantine.single:
            batch = self._narrow(batch)
        if self.pending:
            self._rebuild_pending()
        ticking = False
        now: float | None = None
        if self.service.has_timers and time.monotonic() >= self._next_tick:
            self._next_tick = time.monotonic() + self.engine.ttl_check_ms / 1000
            now = self.clock()
            ticking = self.service.due(now, self.partitions)
        committed = self._transact(batch, ticking, now=now) if batch or ticking else True
        if now is not None and committed and not self.pending:
            self.timer_looks += 1

    def _membership(self) -> None:
        """Join again with new clients after twice the rebalance timeout outside the group.

        After a broker restart on a busy machine, every consumer of an engine (or an
        intake) was seen to stay outside its group for good: its session timed out
        while no coordinator was known ("broker -1"), and librdkafka never joined again
        although the broker served (the broker-outage fault test beside the unit tests:
        nothing decided for 90 s). A new consumer finds the coordinator and joins. A
        member without partitions (more members than partitions) is still a member,
        so only a consumer with no member id at all counts.
        """
        assert self._consumer is not None
        if self.partitions or self.pending or self._consumer.group_metadata() is not None:
            self._outside_since = None
            return
        now = time.monotonic()
        limit = 2 * max(self.engine.rebalance_timeout_ms, self.engine.session_timeout_ms) / 1000
        if self._outside_since is None:
            self._outside_since = now
        elif now - self._outside_since > limit:
            self._outside_since = None
            raise KafkaUnavailable(
                f"not a member of group {self.group} for {limit:.0f} s: joining with new clients"
            )

    def _narrow(
        self, batch: dict[TopicPartition, list[Record]]
    ) -> dict[TopicPartition, list[Record]]:
        # One record per transaction while a poison record is searched for: the
        # records left out are read again (the position had passed them).
        assert self._consumer is not None
        narrowed, seeks = self.quarantine.narrow(batch)
        for tp, offset in seeks.items():
            self._consumer.seek(tp, offset)
        return narrowed

    def _drop_clients(self) -> None:
        """Forget the clients and every partition (rebuilt when the group assigns again)."""
        self.stats["outages"] += 1
        for client in (self._consumer, self._replay, self._producer):
            if client is not None:
                with contextlib.suppress(Exception):  # the broker may be gone
                    client.close()
        self._consumer = self._replay = None
        self._producer = None
        self._outside_since = None
        for number in list(self.partitions):
            self.service.revoked(number)
        self.partitions.clear()
        self.pending.clear()
        self.membership = None
        self.service.aborted()

    def _open(self) -> None:
        self._producer = self._new_producer()
        self._consumer = consumer(
            self.settings,
            group_id=self.group,
            client_id=f"{self.group}-{uuid.uuid4().hex[:6]}",
            max_poll_records=self.engine.batch_size,
            fetch_max_wait_ms=self.engine.fetch_max_wait_ms,
            session_timeout_ms=self.engine.session_timeout_ms,
            heartbeat_interval_ms=max(1000, self.engine.session_timeout_ms // 5),
            # Also the rebalance timeout: how long the broker holds a rebalance open
            # for a member that joined and then went silent (a killed process).
            max_poll_interval_ms=max(
                self.engine.rebalance_timeout_ms, self.engine.session_timeout_ms
            ),
        )
        if self.events_topic:
            self._replay = consumer(
                self.settings,
                group_id=None,
                client_id=f"{self.group}-replay",
                # Assigned only while it reads (rebuilds, snapshot loads), so it never
                # fetches idle: the shortest wait makes each read's end come at once.
                fetch_max_wait_ms=1,
            )
        # Join only once the topic's metadata is known: a group leader that cannot see
        # the topic assigns nothing and the group idles until the next metadata refresh.
        deadline = time.monotonic() + 30
        while (
            len(self._consumer.partitions_for_topic(self.input_topic))
            < self.settings.kafka.partitions
            and time.monotonic() < deadline
        ):
            time.sleep(0.2)
        self._consumer.subscribe([self.input_topic], self.assigned, self.revoked)
        self.log.info("started", group=self.group, topic=self.input_topic)

    def _new_producer(self) -> Producer:
        p = producer(
            self.settings,
            transactional_id=f"{self.group}-{uuid.uuid4()}",
            transaction_timeout_ms=self.engine.transaction_timeout_ms,
            linger_ms=self.engine.linger_ms,
        )
        p.init_transactions()
        return p

    def _close(self) -> None:
        # Leaving the group (consumer.close) hands the partitions over at once instead
        # of after a session timeout; no transaction is open between batches.
        for client in (self._consumer, self._replay, self._producer):
            if client is not None:
                try:
                    client.close()
                except Exception:  # closing is best effort on the way out
                    self.log.warning("close failed", exc_info=True)
        timings = {k: round(v, 3) for k, v in self.timings.items()}
        self.log.info("stopped", **self.stats, **self.service.counters(), **timings)

    # --- assignment ------------------------------------------------------------------

    def revoked(self, revoked: list[TopicPartition]) -> None:
        """Forget revoked partitions: their next owner replays them."""
        self.rebalanced = True
        for tp in revoked:
            self.partitions.pop(tp.partition, None)
            self.pending.discard(tp)
            self.service.revoked(tp.partition)
        if revoked:
            self.log.info("revoked", partitions=sorted(tp.partition for tp in revoked))

    def assigned(self, assigned: list[TopicPartition]) -> None:
        """Pause new partitions until their state is rebuilt (see the module doc)."""
        self.rebalanced = True
        if self._consumer is not None:
            # The membership that owns these partitions, kept for every transaction
            # until the next assignment (see _transact for why not a fresh snapshot).
            self.membership = self._consumer.group_metadata()
        if assigned and self._consumer is not None:
            self._consumer.pause(*assigned)
        self.pending.update(assigned)
        if assigned:
            self.log.info("assigned", partitions=sorted(tp.partition for tp in assigned))

    def _rebuild_pending(self) -> None:
        """Rebuild paused partitions one by one.

        ``committed`` may run the group protocol, so a rebalance can revoke or assign
        partitions in the middle of this loop: each partition is re-checked after every
        blocking call, and the loop gives up (to poll again) when the group moved.
        """
        assert self._consumer is not None
        self.rebalanced = False
        for tp in sorted(self.pending, key=lambda t: t.partition):
            if tp not in self.pending:
                continue
            try:
                # Waits while a previous owner's transaction holding offsets is open.
                committed = self._consumer.committed(tp, timeout_ms=self.engine.session_timeout_ms)
            except KafkaTimeout:
                return  # tried again after the next poll
            if self.rebalanced or tp not in self.pending:
                return
            if not self._events_settled(tp.partition):
                continue  # tried again after the next poll
            if committed is None:
                self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, committed)
            if self._replay is not None and self.service.aggregate_type is not None:
                kind = self.service.aggregate_type
                state = rebuild(self._replay, self.settings, kind, tp.partition, self.codec)
            else:
                state = Partition(tp.partition)
            if self.rebalanced or tp not in self.pending:
                return
            self.partitions[tp.partition] = state
            self.service.rebuilt(state)
            self._consumer.resume(tp)
            self.pending.discard(tp)

    def _events_settled(self, number: int) -> bool:
        """True when no transaction is open on events partition ``number``.

        ``committed(require_stable)`` returns once the previous owner's offsets are
        materialized, but the commit markers of one transaction reach its partitions
        one by one: the events partition may still show that (committed!) transaction
        as open, so a replay to the last stable offset would miss its events while the
        commands it handled are already behind the committed offset, and they would
        be lost (seen here as "order ... does not exist" dead letters after a
        takeover). Waiting until the last stable offset is the log end closes that
        gap. A killed owner's open transaction holds this up to the transaction
        timeout, after which the broker aborts it.
        """
        if self._replay is None or self.events_topic is None:
            return True
        tp = TopicPartition(self.events_topic, number)
        stable = self._replay.end_offsets([tp])[tp]
        end = self._replay.end_offsets([tp], stable=False)[tp]
        if stable < end:
            if number not in self._unsettled:  # once per wait, not every poll
                self._unsettled.add(number)
                self.log.info("waiting for an open transaction", partition=number, lso=stable)
            return False
        self._unsettled.discard(number)
        return True

    # --- one batch -------------------------------------------------------------------

    def _collect(self) -> dict[TopicPartition, list[Record]]:
        """Poll until ``batch_size`` records or ``linger_ms`` after the first one.

        A rebalance in between discards the batch: its partitions may be someone
        else's now, and positions restart from the committed offsets anyway.
        """
        assert self._consumer is not None
        self.rebalanced = False
        batch: dict[TopicPartition, list[Record]] = {}
        count = 0
        deadline: float | None = None
        # Idle, a poll never outlasts the timers' interval: they would fire late.
        idle = min(200, self.engine.ttl_check_ms) if self.service.has_timers else 200
        while count < self.engine.batch_size:
            wait = idle if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            polled = self._consumer.poll(
                timeout_ms=wait, max_records=self.engine.batch_size - count
            )
            if self.rebalanced:
                return {}
            for tp, records in polled.items():
                batch.setdefault(tp, []).extend(records)
                count += len(records)
            if count == 0 or self.stop_event.is_set():
                break
            if deadline is None:
                deadline = time.monotonic() + self.engine.linger_ms / 1000
            elif time.monotonic() >= deadline:
                break
        return batch

    def _transact(
        self,
        batch: dict[TopicPartition, list[Record]],
        ticking: bool,
        final: bool = False,
        now: float | None = None,
    ) -> bool:
        assert self._consumer is not None and self._producer is not None
        out = Outbox(self.settings, self.codec)
        commands = 0
        began = time.perf_counter()
        self._in_flight = []
        try:
            # The order keys the batch's records name, in one query (privacy.vault).
            self.sealing.begin(r.value for records in batch.values() for r in records)
            self._producer.begin_transaction()
            for tp, records in batch.items():
                partition = self.partitions.get(tp.partition)
                if partition is None:  # paused for a rebuild; replayed from its offset
                    continue
                for record in records:
                    self._in_flight.append(record)
                    commands += self._handle(record, partition, out)
            if ticking:
                self.service.tick(self.clock() if now is None else now, self.partitions, out)
            settlements = self._snapshots(out, final)
            # Every key and link the batch made, durable (one statement) before a
            # record sealed with them is sent; records whose key lost a race sealed again.
            out.records[:] = self.sealing.settle(out.records)
            sent = out.bundled()
            handled = time.perf_counter()
            for o in sent:
                self._producer.send(
                    o.topic, o.value, key=o.key, headers=o.headers, partition=o.partition
                )
            if self.engine.commit_delay_ms and sent:
                self._producer.flush()
                # Fault tests wait for this line to pause a process that holds an open
                # transaction with records already on the log.
                self.log.info("holding the transaction open", records=len(sent))
                time.sleep(self.engine.commit_delay_ms / 1000)
            # Positions of every owned partition, not only those in the batch: each
            # transaction then passes the generation check, timers' ones included.
            owned = [TopicPartition(self.input_topic, n) for n in self.partitions]
            offsets = {tp: self._consumer.position(tp) for tp in owned}
            # The membership of the assignment, never a fresh snapshot: a member that
            # learns it was evicted has no generation any more, and the broker accepts
            # a transactional offset commit without one (the pre-KIP-447 path), which
            # would let a resumed zombie commit. An old generation is refused.
            owner = self.membership
            if owner is None:
                raise TransactionAborted("no group membership to commit under")
            # No longer than the transaction timeout: past it the broker aborts the
            # transaction anyway, and a broker gone mid-commit must not hold the
            # processor for the client's default minute before it recovers.
            wait_s = self.engine.transaction_timeout_ms / 1000
            self._producer.send_offsets_to_transaction(offsets, owner, timeout_s=wait_s)
            self._producer.commit_transaction(timeout_s=wait_s)
        except KafkaError as exc:
            self.quarantine.failed(self._in_flight, exc)
            self._recover(exc)
            return False
        finally:
            self.sealing.abandon()  # settled already, or its keys never go out
        self.quarantine.committed(self._in_flight)
        self.service.committed()
        done = time.perf_counter()
        self.timings["handle_s"] += handled - began
        self.timings["commit_s"] += done - handled
        self.stats["commands"] += commands
        self.stats["events"] += out.events_written
        self.stats["transactions"] += 1
        self._snapshots_committed(settlements)
        for partition in list(self.partitions.values()):
            if partition.dirty:  # half-applied command: replay the committed truth
                self.pending.add(TopicPartition(self.input_topic, partition.number))
                self._consumer.pause(TopicPartition(self.input_topic, partition.number))
                del self.partitions[partition.number]
        return True

    # --- snapshots (snapshots.py decides; these only call it around a transaction) ---

    def _snapshots(self, out: Outbox, final: bool) -> list[tuple[Partition, Settlement]]:
        """Queue each owned partition's snapshots and checkpoint in this transaction."""
        if self.service.aggregate_type is None:
            return []
        window_ms = int(self.engine.redelivery_window_s * 1000)
        return [
            (
                partition,
                out.snapshots(
                    self.service.aggregate_type,
                    partition,
                    self.engine.snapshot_every,
                    window_ms,
                    final,
                    self.engine.dormant_kept,
                    self.service.wake_ms,
                ),
            )
            for partition in self.partitions.values()
            if not partition.dirty
        ]

    def _snapshots_committed(self, settlements: list[tuple[Partition, Settlement]]) -> None:
        """The transaction committed: aggregates that are done leave memory."""
        for partition, settlement in settlements:
            snapshots.committed(partition, settlement)
            self.stats["snapshots"] += len(settlement.snapshotted)
            self.stats["left_memory"] += len(settlement.leaving)
            self.stats["loads"] += partition.loads
            partition.loads = 0

    def _final_snapshots(self) -> None:
        """Clean shutdown: one last transaction snapshots every aggregate with events no
        snapshot covers, so the next owner reads snapshots instead of events."""
        if self.service.aggregate_type is None or not self.partitions or self.pending:
            return
        self._transact({}, False, final=True)
        self.log.info("final snapshots written", snapshots=self.stats["snapshots"])

    def _handle(self, record: Record, partition: Partition, out: Outbox) -> int:
        """One record's commands (a bundle's parts, see bundles.py) through the pure step
        (handling.py); only the counting is here. Returns how many commands it held."""
        parts = bundles.parts(self.codec, record)
        condemned = self.quarantine.condemned(record)
        if condemned is not None:
            # A bundle's parts each get a letter of their own: an operator replays the
            # good ones alone, not the one that broke every transaction beside them.
            for part in parts:
                self._dead_poison(part, out, condemned)
            return len(parts)
        for part in parts:
            outcome = self.step(part, partition, out)
            if outcome is Outcome.DUPLICATE:
                self.stats["duplicates"] += 1
            elif outcome is Outcome.DEAD:
                self.stats["dead_letters"] += 1
            elif outcome is Outcome.REJECTED:
                self.stats["rejected"] += 1
        return len(parts)

    def _dead_poison(self, record: Record, out: Outbox, error: str) -> None:
        # Its own transactions failed poison_attempts times: only its dead letter goes.
        attempts = self.quarantine.attempts
        reason = Reason(
            "record.poison",
            WHOLE,
            f"every transaction holding it failed ({attempts} attempts): {error[:300]}",
            f"包含它的事务均失败（{attempts} 次）：{error[:300]}",
            "KafkaError",
        )
        processor = getattr(self.step, "processor", self.service.name)
        dead_letter(self.settings, processor, out, record, reason)
        self.stats["dead_letters"] += 1

    def _recover(self, exc: KafkaError) -> None:
        """A transaction failed (fenced, rebalanced, broker error): abort it, drop every
        partition's state, and rebuild from the log once the group has settled."""
        self.stats["aborts"] += 1
        self.log.warning("transaction aborted", error=f"{type(exc).__name__}: {exc}")
        assert self._consumer is not None and self._producer is not None
        try:
            self._producer.abort_transaction(timeout_s=self.engine.transaction_timeout_ms / 1000)
        except KafkaError:
            self._producer.close()
            self._producer = self._new_producer()
        self.service.aborted()
        owned = [TopicPartition(self.input_topic, n) for n in self.partitions]
        self.partitions.clear()
        if owned:
            self._consumer.pause(*owned)
            self.pending.update(owned)
