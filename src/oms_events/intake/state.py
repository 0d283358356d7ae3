"""The adapter's changelog: a compacted topic per channel, ``oms.intake.<channel>.dedup``.

Key: the channel's external order id. Value: compact JSON ``{"hash": <latest content
hash>, "history": [<every accepted hash>], "order_no": ...}``. It is written in the same
Kafka transaction as the commands and the consumed offsets, so after any crash the
changelog holds exactly the orders whose commands were committed. On start the adapter
reads it to the end (read_committed) to rebuild its :class:`DedupIndex`.

Why not rebuild from ``oms.order.commands``: that topic is shared with the API and the
sagas and keeps 30 days; the changelog is small, ours alone, and kept forever by
compaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable

from oms_events import topics
from oms_events.intake.dedup import DedupIndex
from oms_events.kafka.connection import READ_TO_END_WAIT_MS, consumer
from oms_events.kafka.port import Consumer, TopicPartition
from oms_events.settings import Settings
from oms_events.topics import TopicSpec


def changelog(channel: str) -> str:
    """Base name of a channel's dedup changelog (before the settings prefix)."""
    return topics.intake_dedup(channel)


def changelog_specs(
    settings: Settings, channels: Iterable[str] = topics.CHANNELS
) -> list[TopicSpec]:
    """Registry specs of the channels' changelogs, for ``apply_topics``."""
    wanted = {topics.name(settings, changelog(c)) for c in channels}
    return [s for s in topics.registry(settings) if s.name in wanted]


def intake_specs(settings: Settings, channels: Iterable[str] = topics.CHANNELS) -> list[TopicSpec]:
    """Every topic the intake reads or writes: intakes, order commands, dead letters,
    changelogs."""
    wanted = {topics.name(settings, topics.intake(c)) for c in channels} | {
        topics.name(settings, topics.commands("order")),
        topics.name(settings, topics.DEADLETTER),
    }
    return [s for s in topics.registry(settings) if s.name in wanted] + changelog_specs(
        settings, channels
    )


def encode_entry(history: tuple[str, ...], order_no: str) -> bytes:
    """Changelog value: the latest hash, every accepted hash, and our order number."""
    entry = {"hash": history[-1], "history": list(history), "order_no": order_no}
    return json.dumps(entry, separators=(",", ":")).encode()


def load_index(
    settings: Settings,
    channels: Iterable[str],
    index: DedupIndex,
    timeout_s: float = 60.0,
    *,
    settled: bool = False,
) -> int:
    """Read each channel's changelog to its end into ``index``; returns entries read.

    ``settled`` first waits until no transaction is open on the changelog: a previous
    owner's committed transaction reaches its partitions' markers one by one, so its
    offsets can be final while its changelog entries are not yet readable, and the
    index would miss orders whose commands are committed.
    """
    count = 0
    for channel in channels:
        name = topics.name(settings, changelog(channel))
        c = consumer(settings, group_id=None, fetch_max_wait_ms=READ_TO_END_WAIT_MS)
        try:
            if settled:
                _wait_settled(c, name, timeout_s)
            count += _read_to_end(c, name, channel, index, timeout_s)
        finally:
            c.close()
    return count


def _wait_settled(c: Consumer, name: str, timeout_s: float) -> None:
    tps = [TopicPartition(name, p) for p in sorted(c.partitions_for_topic(name))]
    deadline = time.monotonic() + timeout_s
    while c.end_offsets(tps) != c.end_offsets(tps, stable=False):
        if time.monotonic() > deadline:
            raise TimeoutError(f"a transaction stayed open on {name} for {timeout_s:.0f} s")
        time.sleep(0.05)


def _read_to_end(c: Consumer, name: str, channel: str, index: DedupIndex, timeout_s: float) -> int:
    partitions = c.partitions_for_topic(name)
    tps = [TopicPartition(name, p) for p in sorted(partitions)]
    if not tps:
        return 0
    c.assign(tps)
    c.seek_to_beginning(*tps)
    # With read_committed this is the last stable offset: nothing in flight is counted.
    end = c.end_offsets(tps)
    deadline = time.monotonic() + timeout_s
    count = 0
    while any(c.position(tp) < end[tp] for tp in tps):
        if time.monotonic() > deadline:
            raise TimeoutError(f"changelog {name} not read to its end in {timeout_s:.0f} s")
        for records in c.poll(timeout_ms=500).values():
            for record in records:
                if record.key is None or record.value is None:
                    continue  # a tombstone or foreign record: nothing to restore
                entry = json.loads(record.value)
                hashes = [str(h) for h in entry.get("history") or [entry["hash"]]]
                index.load(channel, record.key.decode(), *hashes)
                count += 1
    return count
