"""The notifier against a webhook subscriber that fails three times and one that is
always down, an opted-out phone, and the web shop's ship call on its outbound topic."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest

from oms_events import deadletter, topics
from oms_events.kafka.admin import apply_topics
from oms_events.notifications.notifier import Notifier
from oms_events.notifications.signature import verify
from oms_events.projection.migrate import migrate
from oms_events.projection.registry import select
from oms_events.projection.runner import connect
from oms_events.settings import Settings
from tests.integration.engine.harness import read_topic
from tests.integration.projections import world as w

SECRET = "hook-secret"


class Subscribers(ThreadingHTTPServer):
    """/flaky answers 500 to the first three tries of each message, then 200; /down is
    always 500. Accepted bodies are kept with whether their signature held."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Hook)
        self.tries: Counter[tuple[str, str]] = Counter()
        self.accepted: dict[str, list[tuple[str, bool]]] = defaultdict(list)
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Hook(BaseHTTPRequestHandler):
    server: Subscribers

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        key = self.headers["Idempotency-Key"]
        signed = verify(SECRET, dict(self.headers), body, now=int(time.time()))
        with self.server.lock:
            self.server.tries[(self.path, key)] += 1
            ok = self.path == "/flaky" and self.server.tries[(self.path, key)] > 3
            if ok:
                self.server.accepted[key].append((body.decode(), signed))
        self.send_response(200 if ok else 500)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def subscribers() -> Iterator[Subscribers]:
    server = Subscribers()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_webhooks_retry_then_arrive_once_or_dead_letter_and_opt_outs_hold(
    topics_ready: Settings,
    schema: str,
    pg: psycopg.Connection,
    subscribers: Subscribers,
    tmp_path: Path,
) -> None:
    settings = topics_ready.replace(
        notifier={
            "channels": "webhook,sms,feed",
            "max_attempts": 4,
            "retry_base_s": 0.05,
            "retry_cap_s": 0.2,
            "idle_s": 0.1,
            "sms_sandbox_file": str(tmp_path / "sms.jsonl"),
            "stock_sync_s": 0.1,
        }
    )
    web = topics.name(settings, topics.channel_shipping("web"))
    stock = {topics.name(settings, topics.channel_stock(c)) for c in topics.STOCK_SYNC_CHANNELS}
    apply_topics(settings, [s for s in topics.registry(settings) if s.name in {web, *stock}])
    with connect(settings.postgres.dsn, schema, "test") as conn:
        migrate(conn, schema, select(["notifications", "inventory"]))
        # What the inventory projection holds: 7 + 5 - 2 teas available over two locations.
        conn.execute(
            "INSERT INTO inventory_level (item_id, sku, location, on_hand, reserved, "
            "low_stock_threshold, version, updated_at) VALUES "
            "(gen_random_uuid(), 'SKU-TEA', 'WH-SH', 7, 0, 0, 1, now()), "
            "(gen_random_uuid(), 'SKU-TEA', 'WH-BJ', 5, 2, 0, 1, now())"
        )
        conn.execute(
            "INSERT INTO notify_subscriber VALUES ('flaky', %s, %s), ('down', %s, %s)",
            (f"{subscribers.url}/flaky", SECRET, f"{subscribers.url}/down", SECRET),
        )
        conn.execute("INSERT INTO notify_opt_out VALUES ('13800000000', 'sms')")  # order 0's
    orders, events = w.notified_orders(2)
    w.produce(settings, events)

    stop = threading.Event()
    notifier = Notifier(settings, schema, stop.is_set)
    thread = threading.Thread(target=notifier.run)
    thread.start()
    try:
        steps = 2 * 4  # confirmed, shipped, out for delivery, delivered
        deadline = time.monotonic() + 90
        while True:
            row = pg.execute(
                f"SELECT count(*), count(*) FILTER (WHERE status = 'pending') "
                f'FROM "{schema}".notification'
            ).fetchone()
            pg.commit()
            # per step: a mail (skipped: not among the channels), an SMS, 2 webhooks;
            # and a ship call per order
            if row == (steps * 4 + 2, 0):
                break
            assert time.monotonic() < deadline, f"notifications not settled: {row}"
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(60)
        notifier.close()

    # The flaky subscriber got every message exactly once, signed, on the fourth try.
    assert len(subscribers.accepted) == steps
    assert all(len(got) == 1 and got[0][1] for got in subscribers.accepted.values())
    assert {subscribers.tries[("/flaky", k)] for k in subscribers.accepted} == {4}
    bodies = [json.loads(got[0][0]) for got in subscribers.accepted.values()]
    assert Counter(b["step"] for b in bodies) == Counter(
        {"confirmed": 2, "shipped": 2, "out_for_delivery": 2, "delivered": 2}
    )
    assert all(b["key"] in subscribers.accepted for b in bodies)  # key in body = header

    # The one always down: each message tried 4 times, then dead-lettered with its reason.
    letters = [
        deadletter.read(r.headers)
        for r in read_topic(settings, topics.name(settings, topics.DEADLETTER))
    ]
    down = [x for x in letters if x.reason.code == "notify.undeliverable"]
    assert len(down) == steps
    assert {(x.processor, x.context["recipient"], x.context["attempts"]) for x in down} == {
        ("notifier.webhook", "down", "4")
    }
    assert all(x.source.topic.endswith("events") and x.source.offset >= 0 for x in down)

    # SMS: order 1's four steps; order 0 opted out of SMS, so its are skipped.
    texts = [json.loads(line) for line in (tmp_path / "sms.jsonl").read_text().splitlines()]
    assert Counter(t["phone"] for t in texts) == {"13800000001": 4}
    assert len({t["request_id"] for t in texts}) == 4
    assert orders[1].order_no in texts[0]["text"]

    # The web shop's ship call, once per order, in Shopify's fulfillmentCreate shape.
    calls = read_topic(settings, web)
    assert sorted(r.key or b"" for r in calls) == [b"4000", b"4001"]
    call = json.loads(calls[0].value or b"")
    assert call["method"] == "fulfillmentCreate"
    assert call["fulfillment"]["trackingInfo"]["company"] == "SF Express"

    # Stock sync: every stock-sync channel told the sum once (it did not change again).
    for channel in topics.STOCK_SYNC_CHANNELS:
        synced = read_topic(settings, topics.name(settings, topics.channel_stock(channel)))
        assert [(r.key, json.loads(r.value or b"")["available"]) for r in synced] == [
            (b"SKU-TEA", 10)
        ]
