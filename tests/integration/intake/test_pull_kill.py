"""Fault: the puller process is SIGKILLed between two pages of a window, restarted, and
every order of the window reaches the intake once and is placed once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from datetime import datetime, timedelta

import pytest

from oms_events import topics
from oms_events.intake.channel import CHINA
from oms_events.intake.pull.platforms import Credentials
from oms_events.intake.pull.puller import read_mark
from oms_events.intake.pull.sandbox import PlatformSandbox, clone, templates
from oms_events.settings import Settings
from tests.integration.intake.conftest import make_topics, read, run_adapter, wait_for

ORDERS = 12  # three pages of five, four pages counting the probe
PAGE = 5


def puller(settings: Settings, url: str, since: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OMS_KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "OMS_KAFKA_TOPIC_PREFIX": settings.kafka.topic_prefix,
        "OMS_KAFKA_PARTITIONS": str(settings.kafka.partitions),
        "OMS_INTAKE_PULL_URL": url,
        "OMS_INTAKE_PULL_PAGE_SIZE": str(PAGE),
        "OMS_INTAKE_PULL_LAG_S": "0",
        "OMS_LOG_LEVEL": "warning",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "oms_events.cli.main", "channel", "pull", "pdd", "--since", since],
        env=env,
    )


@pytest.mark.fault
def test_puller_killed_between_pages_resumes_and_places_each_order_once(
    isolated: Settings,
) -> None:
    settings = isolated.replace(kafka={"partitions": 1})
    make_topics(settings, "pdd")
    i = settings.intake
    box = PlatformSandbox(Credentials(i.pull_app_key, i.pull_app_secret, i.pull_session))
    now = datetime.now(CHINA)
    template = templates()["pdd"]
    for n in range(ORDERS):  # all modified a minute ago: one window
        order_sn = f"261201-{n:015d}"
        box.add("pdd", order_sn, now - timedelta(seconds=60 + n), clone("pdd", template, order_sn))
    held, release = threading.Event(), threading.Event()

    def hold_second_page(channel: str, page: int) -> None:
        # Pages go last to first (3, 2, 1) after the probe of page 1; the first ask for
        # page 2 comes after page 3 and its mark are committed: hold it, kill there.
        if page == 2 and not held.is_set():
            held.set()
            release.wait(30)

    box.before_page = hold_second_page
    url = box.start()
    since = (now - timedelta(minutes=20)).isoformat()
    try:
        first = puller(settings, url, since)
        try:
            wait_for(held.is_set, timeout=60, interval=0.1)
            mark = read_mark(settings, "pdd", i.pull_shop)
            assert mark is not None and (mark.pages, mark.left) == (3, 2)
            first.kill()
            first.wait(10)
        finally:
            release.set()
            if first.poll() is None:
                first.kill()
        second = puller(settings, url, since)
        try:
            assert second.wait(120) == 0
        finally:
            if second.poll() is None:
                second.kill()
    finally:
        box.close()

    # The restart went on with page 2 and 1, never asked for page 3 again (published);
    # a probe of the next (empty) window may follow.
    assert [p for _, p in box.calls][:5] == [1, 3, 2, 2, 1]
    assert [p for _, p in box.calls].count(3) == 1
    mark = read_mark(settings, "pdd", i.pull_shop)
    assert mark is not None and mark.left == 0

    # Each order of the window reached the intake topic exactly once...
    published: Counter[str] = Counter()
    for record in read(settings, topics.intake("pdd")):
        page = json.loads(record.value)["order_sn_increment_get_response"]
        for order in page["order_sn_list"]:
            published[order["order_sn"]] += 1
    assert len(published) == ORDERS and set(published.values()) == {1}

    # ...and was placed once.
    run_adapter(settings, "pdd", commands=ORDERS, letters=0)
    placed = Counter(
        dict(r.headers).get("intake.external_id", b"").decode()
        for r in read(settings, topics.commands("order"))
        if dict(r.headers).get("oms.command") == b"place"
    )
    assert placed == published
