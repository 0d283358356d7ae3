"""The channel adapter on Kafka: consume ``oms.intake.<channel>``, produce order commands.

The adapter is a service of the engine's exactly-once loop (``engine/processor.py``):
one consumer-group member per channel whose batches are Kafka transactions holding
the commands (``oms.order.commands``), the dead letters (``oms.deadletter``), the
changelog entries (``oms.intake.<channel>.dedup``) and the consumed offsets, sent
with the group membership of the assignment (KIP-447), so a fenced zombie can
commit nothing. A ``kill -9`` anywhere leaves either the whole batch or none of it;
the next owner redoes an uncommitted batch from the committed offsets, and its dedup
index, reloaded from the changelog once no transaction is open on it, matches
exactly the commands that were committed.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence

import structlog

from oms_events import topics
from oms_events.avro.registry import codec_from_settings
from oms_events.deadletter import Source
from oms_events.engine.handling import Outcome
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.processor import Processor
from oms_events.engine.records import Outgoing
from oms_events.engine.service import Service
from oms_events.intake.dedup import DedupIndex, IsChangeable, always_changeable
from oms_events.intake.processor import Command, Duplicate, IntakeProcessor, Output, Refused, Seen
from oms_events.intake.state import changelog, encode_entry, load_index
from oms_events.intake.tables import Tables
from oms_events.kafka.port import Record
from oms_events.settings import Settings

log = structlog.get_logger("oms.intake")


class IntakeService(Service):
    """One channel as a service of the processor loop: no aggregates, a dedup index.

    The index is reloaded from the changelog whenever partitions move or a batch
    aborts (another member, or the aborted batch, may have changed what is true);
    entries staged by a batch become final when its transaction commits.
    """

    def __init__(
        self,
        settings: Settings,
        channel: str,
        tables: Tables | None = None,
        is_changeable: IsChangeable = always_changeable,
    ) -> None:
        self.name = f"intake.{channel}"
        self.settings = settings
        self.channel = channel
        self.index = DedupIndex()
        self.commands = topics.name(settings, topics.commands("order"))
        self.codec = codec_from_settings(settings)
        self.processor = IntakeProcessor(
            self.codec,
            tables,
            index=self.index,
            is_changeable=is_changeable,
            commands_topic=self.commands,
            max_record_bytes=settings.kafka.max_record_bytes,
        )
        self.deadletter = topics.name(settings, topics.DEADLETTER)
        self.changelog = topics.name(settings, changelog(channel))
        self.stale = True

    def input_topic(self) -> str:
        """``oms.intake.<channel>``."""
        return topics.intake(self.channel)

    def rebuilt(self, partition: Partition) -> None:
        """Reload the index (once per assignment) before the partition resumes."""
        if self.stale:
            self.index.clear()  # the changelog alone is the truth
            known = load_index(self.settings, [self.channel], self.index, settled=True)
            self.stale = False
            log.info("intake.index_loaded", channel=self.channel, orders_known=known)

    def revoked(self, number: int) -> None:
        """Another member may write next: reload the index on the next assignment."""
        self.stale = True

    def committed(self) -> None:
        """The batch committed: its staged entries are now the index."""
        self.index.commit()

    def aborted(self) -> None:
        """The batch aborted: forget what it staged and reload before going on."""
        self.index.rollback()
        self.stale = True

    def step(self, record: Record, partition: Partition, out: Outbox) -> Outcome:
        """One delivery through the pure intake processor; its outputs into ``out``."""
        source = Source(record.topic, record.partition, record.offset)
        outcome = Outcome.APPLIED
        for output in self.processor.handle(self.channel, record.value or b"", source):
            if isinstance(output, Duplicate):
                outcome = Outcome.DUPLICATE  # acknowledged by the offset commit
                continue
            if isinstance(output, Refused):
                outcome = Outcome.DEAD
            out.add(self._record(output, record.key))
        return outcome

    def _record(self, output: Output, key: bytes | None) -> Outgoing:
        if isinstance(output, Command):
            return Outgoing(
                self.commands,
                str(output.order_id).encode(),
                output.value,
                [
                    ("oms.command", output.kind.encode()),
                    ("intake.channel", output.channel.encode()),
                    ("intake.external_id", output.external_id.encode()),
                    ("intake.order_no", output.order_no.encode()),
                ],
            )
        if isinstance(output, Seen):
            return Outgoing(
                self.changelog,
                output.external_id.encode(),
                encode_entry(output.history, output.order_no),
            )
        assert isinstance(output, Refused)
        # The delivery's key and bytes as received; the reason in the contract's headers.
        return Outgoing(self.deadletter, key, output.raw, output.letter.headers())


class ChannelAdapter:
    """Runs one channel on the processor loop until ``stop`` is set."""

    def __init__(
        self,
        settings: Settings,
        channel: str,
        *,
        tables: Tables | None = None,
        is_changeable: IsChangeable = always_changeable,
        batch_size: int = 200,
        stop: threading.Event | None = None,
    ) -> None:
        self.settings = settings.replace(engine={"batch_size": batch_size})
        self.channel = channel
        self.stop = stop or threading.Event()
        self.service = IntakeService(self.settings, channel, tables, is_changeable)

    @property
    def counts(self) -> Counter[str]:
        """Placed, changed, duplicate, and one counter per dead-letter code."""
        return self.service.processor.counts

    def run(self) -> None:
        """Consume until stopped, in this thread; raises what stopped the loop."""
        loop = Processor(
            self.service, self.settings, self.service.codec, self.stop, step=self.service.step
        )
        log.info("intake.started", channel=self.channel)
        loop.run()
        log.info("intake.stopped", channel=self.channel, **self.counts)
        if loop.error is not None:
            raise loop.error


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
