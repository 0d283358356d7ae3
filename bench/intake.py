"""Intake throughput: normalized orders per second.

* per channel format, pure: parse + normalize + dedup + Avro encode (no Kafka);
* end to end for one channel (``--channel``, tmall by default): publish raw deliveries on
  oms.intake.<channel>, run the adapter (transactions with offsets), until every
  PlaceOrder is readable committed;
* pulled (``--pull pdd``): the platform sandbox holds the orders, the puller pages them
  onto oms.intake.<channel> (one transaction per page with its mark) while the adapter
  runs, until every PlaceOrder is readable committed.

Run: ``.venv/bin/python -m bench.intake [--orders 2000] [--no-kafka] [--channel pdd]
[--pull pdd]``
(the Kafka part needs the dev broker: ``oms dev up``).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from oms_events import topics
from oms_events.avro.codec import SingleObjectCodec
from oms_events.deadletter import Source
from oms_events.intake.adapter import ChannelAdapter
from oms_events.intake.channel import CHINA
from oms_events.intake.processor import Command, IntakeProcessor
from oms_events.intake.pull.platforms import PLATFORMS, Credentials
from oms_events.intake.pull.puller import Puller
from oms_events.intake.pull.sandbox import PlatformSandbox, clone, templates
from oms_events.intake.state import intake_specs
from oms_events.intake.tables import Tables
from oms_events.kafka.admin import apply_topics
from oms_events.kafka.connection import consumer, producer
from oms_events.kafka.port import TopicPartition
from oms_events.logging import setup_logging
from oms_events.settings import Settings

FIXTURES = Path(__file__).parents[1] / "tests" / "fixtures" / "channels"
TEMPLATES = {
    "web": ("order_1001.json", "5712345678901"),
    "tmall": ("trade_3891234567890123456.json", "3891234567890123456"),
    "jd": ("order_281234567890.xml", "281234567890"),
}
POS_ROW = (
    "S{n},000001,2024-06-18 15:02:11,6901234567892,2,125.00,ZK95;B2G1-TEA,237.50,微信,陈静,"
    "13800138000,浙江省,杭州市,上城区,湖滨路 28 号,同城\n"
    "S{n},000001,2024-06-18 15:02:11,6901234567908,1,98.00,ZK95;B2G1-TEA,237.50,微信,陈静,"
    "13800138000,浙江省,杭州市,上城区,湖滨路 28 号,同城\n"
)


def deliveries(channel: str, count: int) -> list[bytes]:
    """``count`` distinct valid deliveries of one order each."""
    if channel == "pos":
        header = (FIXTURES / "pos" / "batch_S001_20240618.csv").read_text("utf-8-sig")
        head = header.splitlines(keepends=True)[0]
        return [(head + POS_ROW.format(n=n)).encode() for n in range(count)]
    if channel in ("pdd", "douyin"):  # bare orders, as the platforms' APIs hold them
        shape = templates()[channel]
        return [
            json.dumps(clone(channel, shape, _order_id(channel, n)), default=str).encode()
            for n in range(count)
        ]
    name, placeholder = TEMPLATES[channel]
    text = (FIXTURES / channel / name).read_text("utf-8")
    return [text.replace(placeholder, str(900000000 + n)).encode() for n in range(count)]


def _order_id(channel: str, n: int) -> str:
    return f"261201-{n:015d}" if channel == "pdd" else f"69{n:017d}"


def pure(count: int) -> None:
    tables = Tables.load()
    for channel in ("web", "tmall", "jd", "pos", "pdd", "douyin"):
        raws = deliveries(channel, count)
        processor = IntakeProcessor(SingleObjectCodec(), tables)
        started = time.perf_counter()
        placed = 0
        for raw in raws:
            outputs = processor.handle(channel, raw, Source("bench"))
            placed += sum(isinstance(o, Command) for o in outputs)
        processor.index.commit()
        elapsed = time.perf_counter() - started
        assert placed == count, (channel, placed)
        print(f"pure   {channel:6} {count / elapsed:9,.0f} orders/s  ({count} in {elapsed:.2f} s)")


def end_to_end(count: int, channel: str) -> None:
    settings = Settings().replace(kafka={"topic_prefix": f"bench{uuid.uuid4().hex[:6]}."})
    apply_topics(settings, intake_specs(settings, [channel]))
    p = producer(settings)
    topic = topics.name(settings, topics.intake(channel))
    for i, raw in enumerate(deliveries(channel, count)):
        p.send(topic, key=str(i).encode(), value=raw)
    p.flush()
    p.close()
    elapsed = _adapt(settings, channel, count, lambda: None)
    print(
        f"kafka  {channel:6} {count / elapsed:9,.0f} orders/s  ({count} raw deliveries -> "
        f"committed PlaceOrder, read_committed, incl. adapter start-up and group join, "
        f"{elapsed:.2f} s)"
    )


def pulled(count: int, channel: str) -> None:
    settings = Settings().replace(
        kafka={"topic_prefix": f"bench{uuid.uuid4().hex[:6]}."},
        intake={"pull_lag_s": 0, "pull_page_size": 100},
    )
    apply_topics(settings, intake_specs(settings, [channel]))
    i = settings.intake
    box = PlatformSandbox(Credentials(i.pull_app_key, i.pull_app_secret, i.pull_session))
    now = datetime.now(CHINA)
    shape = templates()[channel]
    for n in range(count):
        order_id = _order_id(channel, n)
        box.add(
            channel, order_id, now - timedelta(seconds=1 + n % 600), clone(channel, shape, order_id)
        )
    url = box.start()
    puller = Puller(settings, PLATFORMS[channel], client=httpx.Client(base_url=url))
    try:
        elapsed = _adapt(
            settings, channel, count, lambda: puller.run(since=now - timedelta(minutes=15))
        )
    finally:
        box.close()
    print(
        f"pulled {channel:6} {count / elapsed:9,.0f} orders/s  ({count} orders in "
        f"{puller.counts['pages']} pages from the sandbox -> committed PlaceOrder, "
        f"{elapsed:.2f} s)"
    )


def _adapt(settings: Settings, channel: str, count: int, feed: Callable[[], object]) -> float:
    """Run the adapter while ``feed`` runs; seconds until ``count`` commands are committed."""
    stop = threading.Event()
    adapter = ChannelAdapter(settings, channel, stop=stop, batch_size=500)
    started = time.perf_counter()
    thread = threading.Thread(target=adapter.run, daemon=True)
    thread.start()
    feed()
    commands = topics.name(settings, topics.commands("order"))
    c = consumer(settings, group_id=None)
    parts = [TopicPartition(commands, n) for n in sorted(c.partitions_for_topic(commands))]
    c.assign(parts)
    c.seek_to_beginning(*parts)
    seen = 0
    while seen < count:
        for records in c.poll(timeout_ms=500).values():
            seen += len(records)
    elapsed = time.perf_counter() - started
    stop.set()
    thread.join(timeout=20)
    c.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--no-kafka", action="store_true")
    parser.add_argument("--channel", default="tmall", help="channel of the end-to-end run")
    parser.add_argument("--pull", choices=sorted(PLATFORMS), help="also pull from the sandbox")
    args = parser.parse_args()
    setup_logging("console", "warning")  # per-order log lines would dominate the timing
    pure(args.orders)
    if not args.no_kafka:
        end_to_end(args.orders, args.channel)
        if args.pull:
            pulled(args.orders, args.pull)


if __name__ == "__main__":
    main()
