"""``oms notify run``: the notifications projection, the dispatcher and the stock sync
in one process.

Each round applies one batch of events (planning their messages with the offsets, in
one transaction), then sends what is due, then (every OMS_NOTIFIER_STOCK_SYNC_S)
publishes changed available stock for the channels. PostgreSQL and Kafka outages are waited
out by the projection supervisor, from the offsets and rows the database holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import psycopg

from oms_events.kafka.connection import producer
from oms_events.kafka.port import Producer
from oms_events.notifications.channels import (
    ChannelFeed,
    Mail,
    SandboxSms,
    Sender,
    Sms,
    SmsProvider,
    Webhook,
    sms_outbox,
)
from oms_events.notifications.dispatcher import Dispatcher
from oms_events.notifications.stock_sync import StockSync
from oms_events.projection.registry import select
from oms_events.projection.runner import connect
from oms_events.projection.supervisor import Supervisor
from oms_events.settings import Settings


class Notifier:
    """Plans and sends notifications into ``schema`` until ``stop()``."""

    def __init__(
        self,
        settings: Settings,
        schema: str,
        stop: Callable[[], bool],
        *,
        sms: SmsProvider | None = None,
        batch_size: int = 500,
    ) -> None:
        """``sms`` is the SMS provider (default: the sandbox file)."""
        self.settings = settings
        self._feed: Producer | None = None
        senders: Mapping[str, Sender] = {
            "email": Mail(settings.notifier),
            "sms": Sms(sms or SandboxSms(sms_outbox(settings))),
            "webhook": Webhook(settings.notifier),
            "feed": ChannelFeed(settings, self._feed_producer()),
        }
        self.dispatcher = Dispatcher(
            settings,
            lambda: connect(settings.postgres.dsn, schema, "oms-notify-send", create=False),
            senders,
            lambda: producer(settings, client_id="oms-notifier-dlq"),
        )
        self.stock = StockSync(
            settings,
            lambda: connect(settings.postgres.dsn, schema, "oms-notify-stock", create=False),
            lambda: producer(settings, client_id="oms-notifier-stock"),
        )
        self.supervisor = Supervisor(
            settings,
            select(["notifications"]),
            schema,
            stop,
            batch_size=batch_size,
            max_wait=settings.notifier.idle_s,
            each_round=self._round,
        )

    def _round(self) -> None:
        self.dispatcher.dispatch()
        self.stock.sync()

    def _feed_producer(self) -> Producer:
        self._feed = producer(settings=self.settings, client_id="oms-notifier-feed")
        return self._feed

    def run(self) -> None:
        """Plan and send until ``stop()``."""
        self.supervisor.run()

    def close(self) -> None:
        """Close the Kafka clients and connections."""
        self.supervisor.close()
        self.dispatcher.close()
        self.stock.close()
        if self._feed is not None:
            self._feed.close()


def connect_in(settings: Settings, schema: str) -> psycopg.Connection[Any]:
    """An autocommit connection to the notifier's tables in ``schema`` (for the CLI)."""
    return connect(settings.postgres.dsn, schema, "oms-notify-cli", create=False)
