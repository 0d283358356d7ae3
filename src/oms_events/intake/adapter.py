"""The channel adapter on Kafka: consume ``oms.intake.<channel>``, produce order commands.

One consumer and one transactional producer per channel. Each polled batch is one
Kafka transaction holding the commands (``oms.order.commands``), the dead letters
(``oms.deadletter``), the changelog entries (``oms.intake.<channel>.dedup``) and the
consumed offsets (``send_offsets_to_transaction`` with the consumer's group metadata,
so a fenced zombie cannot commit). A ``kill -9`` anywhere leaves either the whole
batch or none of it; the restarted adapter redoes an uncommitted batch from the
committed offsets, and its dedup index, rebuilt from the changelog, matches exactly
the commands that were committed.

The transactional id is stable per (channel, instance): on restart
``init_transactions`` aborts what the killed process left open at once, instead of
read_committed readers waiting for the transaction timeout.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

import structlog
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer
from kafka.structs import OffsetAndMetadata

from oms_events import topics
from oms_events.avro.registry import codec_from_settings
from oms_events.deadletter import Source
from oms_events.intake.dedup import DedupIndex, IsChangeable, always_changeable
from oms_events.intake.processor import Command, Duplicate, IntakeProcessor, Output, Refused, Seen
from oms_events.intake.state import changelog, encode_entry, load_index
from oms_events.intake.tables import Tables
from oms_events.kafka.connection import consumer, producer
from oms_events.settings import Settings

log = structlog.get_logger("oms.intake")


class _Reassigned(ConsumerRebalanceListener):  # type: ignore[misc]
    """Marks the index stale when partitions move: another instance may have written."""

    def __init__(self) -> None:
        self.stale = False

    def on_partitions_revoked(self, revoked: object) -> None:
        """Nothing to flush: every batch commits before the next poll."""

    def on_partitions_assigned(self, assigned: object) -> None:
        """Reload the index before the next batch."""
        self.stale = True


class ChannelAdapter:
    """Runs one channel's consume-transform-produce loop until ``stop`` is set."""

    def __init__(
        self,
        settings: Settings,
        channel: str,
        *,
        tables: Tables | None = None,
        is_changeable: IsChangeable = always_changeable,
        instance: str = "0",
        batch_size: int = 200,
        stop: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.channel = channel
        self.index = DedupIndex()
        self.commands = topics.name(settings, topics.commands("order"))
        self.processor = IntakeProcessor(
            tables,
            codec_from_settings(settings.registry),
            index=self.index,
            is_changeable=is_changeable,
            commands_topic=self.commands,
        )
        self.instance = instance
        self.batch_size = batch_size
        self.stop = stop or threading.Event()
        self.source = topics.name(settings, topics.intake(channel))
        self.deadletter = topics.name(settings, topics.DEADLETTER)
        self.changelog = topics.name(settings, changelog(channel))
        self.group = topics.name(settings, f"oms-intake.{channel}")

    @property
    def counts(self) -> Counter[str]:
        """Placed, changed, duplicate, and one counter per dead-letter code."""
        return self.processor.counts

    def run(self) -> None:
        """Consume until stopped; any Kafka failure aborts the open batch and raises."""
        tx = producer(
            self.settings,
            transactional_id=f"{self.group}.{self.instance}",
            transaction_timeout_ms=30_000,
        )
        tx.init_transactions()  # fences a zombie and aborts its open transaction
        listener = _Reassigned()
        c = consumer(
            self.settings,
            group_id=self.group,
            # Static membership: a restarted instance takes its partitions back at once
            # instead of waiting out the dead member's session (and fences it).
            group_instance_id=f"{self.group}.{self.instance}",
            session_timeout_ms=15_000,
            max_poll_records=self.batch_size,
        )
        c.subscribe([self.source], listener=listener)
        self._reload()
        log.info("intake.started", channel=self.channel, orders_known=len(self.index))
        last_report = time.monotonic()
        try:
            while not self.stop.is_set():
                batch = c.poll(timeout_ms=300)
                if listener.stale:
                    listener.stale = False
                    self._reload()
                if batch:
                    self._transact(tx, c, batch)
                if time.monotonic() - last_report > 30:
                    log.info("intake.counts", channel=self.channel, **self.counts)
                    last_report = time.monotonic()
        finally:
            log.info("intake.stopped", channel=self.channel, **self.counts)
            c.close()
            tx.close()

    def _reload(self) -> None:
        self.index.clear()  # the changelog alone is the truth
        load_index(self.settings, [self.channel], self.index)

    def _transact(self, tx: KafkaProducer, c: KafkaConsumer, batch: dict) -> None:  # type: ignore[type-arg]
        tx.begin_transaction()
        try:
            offsets = {}
            for tp, records in batch.items():
                for record in records:
                    source = Source(record.topic, record.partition, record.offset)
                    for output in self.processor.handle(self.channel, record.value or b"", source):
                        self._send(tx, output, record.key)
                offsets[tp] = OffsetAndMetadata(records[-1].offset + 1, "", -1)
            tx.send_offsets_to_transaction(offsets, c.group_metadata())
            tx.commit_transaction()
        except BaseException:
            self.index.rollback()
            try:
                tx.abort_transaction()
            except Exception:  # the producer may be fenced or gone; the restart aborts it
                log.exception("intake.abort_failed", channel=self.channel)
            raise
        self.index.commit()

    def _send(self, tx: KafkaProducer, output: Output, key: bytes | None) -> None:
        if isinstance(output, Command):
            tx.send(
                self.commands,
                key=str(output.order_id).encode(),
                value=output.value,
                headers=[
                    ("oms.command", output.kind.encode()),
                    ("intake.channel", output.channel.encode()),
                    ("intake.external_id", output.external_id.encode()),
                    ("intake.order_no", output.order_no.encode()),
                ],
            )
        elif isinstance(output, Seen):
            tx.send(
                self.changelog,
                key=output.external_id.encode(),
                value=encode_entry(output.history, output.order_no),
            )
        elif isinstance(output, Refused):
            # The delivery's key and bytes as received; the reason in the contract's headers.
            tx.send(self.deadletter, key=key, value=output.raw, headers=output.letter.headers())
        elif isinstance(output, Duplicate):
            pass  # acknowledged by the offset commit, nothing to write


def run_channels(
    settings: Settings,
    channels: Sequence[str],
    stop: threading.Event,
    make: Callable[[str], ChannelAdapter] | None = None,
) -> list[ChannelAdapter]:
    """Run one adapter thread per channel until ``stop``; if one fails, stop them all
    and raise its error (a supervisor restarts the process, which resumes exactly)."""
    adapters = [
        (make or (lambda ch: ChannelAdapter(settings, ch, stop=stop)))(ch) for ch in channels
    ]
    errors: list[BaseException] = []

    def guard(adapter: ChannelAdapter) -> None:
        try:
            adapter.run()
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    threads = [
        threading.Thread(target=guard, args=(a,), name=f"intake-{a.channel}", daemon=True)
        for a in adapters
    ]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(timeout=0.5)
    if errors:
        raise errors[0]
    return adapters
