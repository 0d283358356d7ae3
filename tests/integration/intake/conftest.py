"""Helpers for the intake's tests on the real broker: topics, sending, reading back."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oms_events import topics
from oms_events.avro.codec import SingleObjectCodec
from oms_events.intake.adapter import ChannelAdapter
from oms_events.intake.state import intake_specs
from oms_events.kafka.admin import apply_topics
from oms_events.kafka.connection import producer
from oms_events.settings import Settings
from tests.integration.engine.harness import read_topic

FIXTURES = Path(__file__).parents[2] / "fixtures" / "channels"


POS_HEADER = (
    "store_id,receipt_no,sold_at,barcode,qty,unit_price,promo_codes,paid_total,payment,"
    "member_name,member_phone,province,city,district,address,delivery\n"
)


def pos_batch(store: str, receipts: range) -> tuple[str, bytes]:
    """One POS batch file (key, bytes): a one-line receipt per number, of the SKU the
    barcode 6901234567892 maps to (intake/skus.json)."""
    rows = "".join(
        f"{store},{n:06d},2024-06-18 15:00:00,6901234567892,1,125.00,,125.00,card,"
        f"周杰,13800138000,浙江省,杭州市,西湖区,延安路 {n} 号,\n"
        for n in receipts
    )
    return store, (POS_HEADER + rows).encode()


def make_topics(settings: Settings, channel: str) -> None:
    """The intake's topics for one channel, under the test's unique prefix."""
    apply_topics(settings, intake_specs(settings, [channel]))


def send(settings: Settings, channel: str, deliveries: list[tuple[str, bytes]]) -> None:
    """Publish (key, bytes) deliveries on oms.intake.<channel>, as the channel would."""
    p = producer(settings)
    topic = topics.name(settings, topics.intake(channel))
    for key, raw in deliveries:
        p.send(topic, key=key.encode(), value=raw)
    p.flush()
    p.close()


def read(settings: Settings, base: str) -> list[Any]:
    """Every committed record of a topic (read_committed), all partitions."""
    return read_topic(settings, topics.name(settings, base))


def placed(settings: Settings) -> list[tuple[str, dict[str, Any]]]:
    """Decoded order commands: (schema name, record)."""
    codec = SingleObjectCodec()
    return [codec.decode(r.value) for r in read(settings, topics.commands("order"))]


def wait_for(predicate: Callable[[], bool], timeout: float = 40.0, interval: float = 0.5) -> None:
    """Poll until ``predicate`` holds, or fail."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(interval)


def run_adapter(settings: Settings, channel: str, commands: int, letters: int) -> Counter[str]:
    """Run ``channel``'s adapter (batches of 3) until ``commands`` commands and ``letters``
    dead letters are committed, stop it; its counts."""
    stop = threading.Event()
    adapter = ChannelAdapter(settings, channel, stop=stop, batch_size=3)
    thread = threading.Thread(target=adapter.run, daemon=True)
    thread.start()
    try:
        wait_for(
            lambda: (
                len(placed(settings)) >= commands
                and len(read(settings, topics.DEADLETTER)) >= letters
            )
        )
    finally:
        stop.set()
        thread.join(timeout=20)
    return adapter.counts
