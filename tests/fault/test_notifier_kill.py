"""The notifier SIGKILLed while it mails an order's steps: after a restart every mail
has arrived, none was planned or sent twice; only the one on the wire at the kill may
go again, with the same Message-ID, which a mailbox takes once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import psycopg
import pytest
from aiosmtpd.controller import Controller

from oms_events.kafka.security import environment as kafka_environment
from oms_events.settings import Settings
from tests.integration.conftest import pg
from tests.integration.engine.harness import ROOT
from tests.integration.projections import world as w
from tests.integration.projections.conftest import schema, topics_ready
from tests.ports import free_port

__all__ = ["pg", "schema", "topics_ready"]

ORDERS = 3
STEPS = 4  # confirmed, shipped, out for delivery, delivered


class Mailbox:
    """An aiosmtpd handler that keeps (Message-ID, To, Subject) of every mail it
    accepts, taking a little time over each so that a kill lands mid-stream."""

    def __init__(self) -> None:
        self.mails: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        time.sleep(0.1)
        m = message_from_bytes(envelope.content, policy=policy.default)  # subjects decoded
        with self.lock:
            self.mails.append((str(m["Message-ID"]), str(m["To"]), str(m["Subject"])))
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.mails)


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def start(settings: Settings, schema: str, smtp_port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **kafka_environment(settings),  # as the admin: these topics have no ACLs
        "OMS_KAFKA_TOPIC_PREFIX": settings.kafka.topic_prefix,
        "OMS_KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "OMS_POSTGRES_DSN": settings.postgres.dsn,
        "OMS_NOTIFIER_SMTP_PORT": str(smtp_port),
        "OMS_NOTIFIER_CHANNELS": "email",
        "OMS_NOTIFIER_IDLE_S": "0.1",
        "OMS_LOG_FORMAT": "json",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "oms_events.cli.main", "notify", "run", "--schema", schema],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait(check: Any, proc: subprocess.Popen[bytes], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_mails_arrive_once_each_across_a_sigkill(
    topics_ready: Settings,
    schema: str,
    pg: psycopg.Connection,
    mailbox: tuple[Mailbox, int],
) -> None:
    box, port = mailbox
    orders, events = w.notified_orders(ORDERS)
    w.produce(topics_ready, events)
    expected = ORDERS * STEPS

    proc = start(topics_ready, schema, port)
    wait(lambda: box.count() >= 3, proc, 120, "no mail arrived")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert box.count() < expected, "killed too late to prove anything"

    proc = start(topics_ready, schema, port)
    try:

        def settled() -> bool:
            row = pg.execute(
                "SELECT count(*) FILTER (WHERE channel = 'email' AND status = 'sent'), "
                "count(*) FILTER (WHERE status = 'pending') "
                f'FROM "{schema}".notification'
            ).fetchone()
            pg.commit()
            return row == (expected, 0)  # the SMS rows are skipped: not among the channels

        wait(settled, proc, 120, "the restarted notifier did not send every mail")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

    ids = Counter(mail[0] for mail in box.mails)
    assert len(ids) == expected  # every (event, recipient) mailed, none planned twice
    # A mailbox keeps one mail per Message-ID: each arrived exactly once there. On the
    # wire, at most the one mail in flight at the kill went twice.
    assert sum(ids.values()) - expected <= 1, ids
    subjects = Counter(subject for _, _, subject in {*box.mails})
    for order in orders:
        assert subjects[f"订单 {order.order_no} 已确认"] == 1
        assert subjects[f"订单 {order.order_no} 已发货"] == 1
        assert subjects[f"订单 {order.order_no} 已签收"] == 1
    assert {to for _, to, _ in box.mails} == {f"buyer{i}@example.com" for i in range(ORDERS)}
