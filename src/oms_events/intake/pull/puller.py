"""The puller: walks a platform's order API window by window and publishes what it
reads on ``oms.intake.<channel>``, each page with its high-water mark in ONE Kafka
transaction.

A window is [start, end) of modification times, ``end`` at most the platform's window
limit after ``start`` and ``intake.pull_lag_s`` before now (platforms index late
changes). Its pages are fetched from the last to the first, as Taobao and Pinduoduo
tell integrators to page: an order modified while we page leaves the window (it will
be in a later one), which shifts the pages after it towards the front; walking
backwards, those pages are still ahead of us, so nothing is skipped (at worst an
order is read twice, and the adapter's dedup index acknowledges the copy).

The mark (``oms.intake.<channel>.pull``, key: the shop) says which window the puller
is in, how many pages it has and how many are still to publish. It is written in the
transaction that publishes a page, so after a crash (``kill -9`` anywhere) the
records of the pages published and the mark agree: the next puller (same
transactional id, which fences the old one and aborts what it left open) reads the
mark and goes on with the next page — no window is skipped, none repeated.

Throttling answers (the platform's own code) and network errors wait a capped,
doubling backoff (``settings.recovery``) and ask again; any other API error stops the
run with the platform's code and message.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import structlog

from oms_events import topics
from oms_events.intake.pull.platforms import ApiError, Credentials, Platform, Request
from oms_events.kafka.admin import apply_topics
from oms_events.kafka.connection import READ_TO_END_WAIT_MS, consumer, producer
from oms_events.kafka.port import Producer, TopicPartition
from oms_events.recovery import Backoff
from oms_events.settings import Settings

log = structlog.get_logger("oms.intake.pull")


@dataclass(frozen=True)
class Mark:
    """Where a shop's puller is: window [start, end) of ``pages`` pages, ``left`` of them
    still to publish (pages ``left`` … 1, counted from 1); ``left == 0``: done."""

    start: datetime
    end: datetime
    pages: int
    left: int

    def encode(self) -> bytes:
        """The mark topic's value (compact JSON, times in ISO 8601)."""
        return json.dumps(
            {
                "start": self.start.isoformat(),
                "end": self.end.isoformat(),
                "pages": self.pages,
                "left": self.left,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, value: bytes) -> Mark:
        """Read a value written by :meth:`encode`."""
        doc = json.loads(value)
        return cls(
            datetime.fromisoformat(doc["start"]),
            datetime.fromisoformat(doc["end"]),
            int(doc["pages"]),
            int(doc["left"]),
        )


class PullError(Exception):
    """The run cannot go on (a platform error other than throttling, or no start)."""


class _Stopped(Exception):
    """``stop`` was set while waiting for the platform: end the run where it stands."""


def pull_specs(settings: Settings, channel: str) -> list[topics.TopicSpec]:
    """The topics a puller writes: the channel's intake and its mark topic."""
    wanted = {
        topics.name(settings, topics.intake(channel)),
        topics.name(settings, topics.intake_pull(channel)),
    }
    return [s for s in topics.registry(settings) if s.name in wanted]


def read_mark(settings: Settings, channel: str, shop: str, timeout_s: float = 30.0) -> Mark | None:
    """The shop's last committed mark (read_committed, to the end), or None."""
    name = topics.name(settings, topics.intake_pull(channel))
    c = consumer(settings, group_id=None, fetch_max_wait_ms=READ_TO_END_WAIT_MS)
    try:
        tps = [TopicPartition(name, p) for p in sorted(c.partitions_for_topic(name))]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        end = c.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        mark: Mark | None = None
        while any(c.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not read to its end in {timeout_s:.0f} s")
            for records in c.poll(timeout_ms=500).values():
                for record in records:
                    if record.key == shop.encode() and record.value is not None:
                        mark = Mark.decode(record.value)
        return mark
    finally:
        c.close()


def _now() -> datetime:
    return datetime.now(UTC)


class Puller:
    """Pulls one shop of one platform; ``counts`` has windows, pages, orders, throttled."""

    def __init__(
        self,
        settings: Settings,
        platform: Platform,
        *,
        creds: Credentials | None = None,
        shop: str | None = None,
        client: httpx.Client | None = None,
        clock: Callable[[], datetime] = _now,
        stop: threading.Event | None = None,
    ) -> None:
        intake = settings.intake
        self.settings = settings
        self.platform = platform
        self.creds = creds or Credentials(
            intake.pull_app_key, intake.pull_app_secret, intake.pull_session
        )
        self.shop = shop or intake.pull_shop
        self.client = client or httpx.Client(base_url=intake.pull_url, timeout=30.0)
        self.clock = clock
        self.stop = stop or threading.Event()
        self.size = intake.pull_page_size
        self.lag = timedelta(seconds=intake.pull_lag_s)
        self.intake_topic = topics.name(settings, topics.intake(platform.channel))
        self.mark_topic = topics.name(settings, topics.intake_pull(platform.channel))
        self.backoff = Backoff(settings.recovery, stop=self.stop.is_set)
        self.counts: Counter[str] = Counter()

    def run(self, since: datetime | None = None, follow: bool = False) -> Mark | None:
        """Pull every window from the mark (or ``since`` when there is none) up to now
        minus the lag; with ``follow``, keep polling until ``stop``. Returns the last mark."""
        apply_topics(self.settings, pull_specs(self.settings, self.platform.channel))
        prefix = self.settings.kafka.topic_prefix
        p = producer(
            self.settings,
            transactional_id=f"{prefix}oms-pull-{self.platform.channel}-{self.shop}",
        )
        try:
            # Fences an older puller of this shop and aborts what it left open, so the
            # mark read next is the last one committed.
            p.init_transactions()
            mark = read_mark(self.settings, self.platform.channel, self.shop)
            if mark is None and since is None:
                raise PullError(
                    f"no mark for shop {self.shop!r} of {self.platform.channel} yet: "
                    "give --since for the first run"
                )
            try:
                return self._windows(p, mark, since, follow)
            except _Stopped:
                return read_mark(self.settings, self.platform.channel, self.shop)
        finally:
            p.close()

    def _windows(
        self, p: Producer, mark: Mark | None, since: datetime | None, follow: bool
    ) -> Mark | None:
        if mark is not None and mark.left:
            log.info("pull.resume", channel=self.platform.channel, left=mark.left)
            mark = self._pages(p, mark)
        start = mark.end if mark is not None else since
        assert start is not None
        while True:
            # The target is fixed per round: a run without --follow ends, rather than
            # chasing a "now" that moves while it pulls.
            until = self.clock() - self.lag
            while start < until and not self.stop.is_set():
                mark = self._window(p, start, min(start + self.platform.max_window, until))
                start = mark.end
            if not follow or self.stop.wait(self.settings.intake.pull_interval_s):
                return mark

    def _window(self, p: Producer, start: datetime, end: datetime) -> Mark:
        first = self._fetch(
            self.platform.list_request(
                self.creds, start, end, self.platform.first_page, self.size, self.clock()
            )
        )
        page = self.platform.read_page(first)
        pages = max(1, math.ceil(page.total / self.size))
        self.counts["windows"] += 1
        if pages == 1:
            # The probe is the whole window: publish it as it is.
            mark = Mark(start, end, 1, 0)
            self._publish(p, first, page.count, page.detail_ids, mark)
            return mark
        return self._pages(p, Mark(start, end, pages, pages))

    def _pages(self, p: Producer, mark: Mark) -> Mark:
        while mark.left and not self.stop.is_set():
            number = mark.left - 1 + self.platform.first_page
            body = self._fetch(
                self.platform.list_request(
                    self.creds, mark.start, mark.end, number, self.size, self.clock()
                )
            )
            page = self.platform.read_page(body)
            mark = Mark(mark.start, mark.end, mark.pages, mark.left - 1)
            self._publish(p, body, page.count, page.detail_ids, mark)
        return mark

    def _publish(
        self, p: Producer, body: bytes, count: int, detail_ids: tuple[str, ...], mark: Mark
    ) -> None:
        """One transaction: the page's orders (or their details) and the mark after it."""
        details = [self._detail(i) for i in detail_ids]  # fetched before the transaction
        key = self.shop.encode()
        p.begin_transaction()
        try:
            # Keyed by shop: a shop's pages stay in order on one partition, so a later
            # version of an order is never read before an earlier one.
            if details:
                for detail in details:
                    p.send(self.intake_topic, detail, key=key)
            elif count:
                p.send(self.intake_topic, body, key=key)
            p.send(self.mark_topic, mark.encode(), key=key)
            p.commit_transaction()
        except BaseException:
            p.abort_transaction()
            raise
        self.counts["pages"] += 1
        self.counts["orders"] += len(details) or count
        log.info(
            "pull.page",
            channel=self.platform.channel,
            shop=self.shop,
            window_start=mark.start.isoformat(),
            window_end=mark.end.isoformat(),
            pages=mark.pages,
            left=mark.left,
            orders=len(details) or count,
        )

    def _detail(self, order_id: str) -> bytes:
        body = self._fetch(self.platform.detail_request(self.creds, order_id, self.clock()))
        self.platform.check_detail(body)
        return body

    def _fetch(self, request: Request) -> bytes:
        """POST one request; throttling and network errors wait and ask again."""
        while True:
            if self.stop.is_set():
                raise _Stopped
            try:
                answer = self.client.post(
                    request.url_tail(),
                    data=request.form or None,
                    content=request.body,
                    headers={"Content-Type": "application/json"} if request.body else None,
                )
                body = answer.content
                self.platform.read_doc(body)  # raises the platform's error
            except httpx.HTTPError as exc:
                self.backoff.wait(f"{self.platform.channel} order API", exc)
                continue
            except ApiError as error:
                if not error.throttled:
                    raise PullError(str(error)) from error
                self.counts["throttled"] += 1
                self.backoff.wait(f"{self.platform.channel} order API (throttled)", error)
                continue
            self.backoff.recovered()
            return body
