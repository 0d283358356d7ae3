"""Stock sync (库存同步): each channel told the available stock of every sku that changed.

Every ``OMS_NOTIFIER_STOCK_SYNC_S`` the notifier sums ``available`` over the locations
of the inventory projection (``inventory_level``, in the same schema), publishes the
skus whose sum differs from what was last published on each channel's
``oms.channel.<channel>.stock`` topic (keyed by sku), waits for the acks and then
records the sums. The message is the absolute quantity, not a change, so the repeat
after a crash between the ack and the record is harmless, and a channel that missed
one message is right again at the next.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog

from oms_events import topics
from oms_events.kafka.port import Producer
from oms_events.settings import Settings

log = structlog.get_logger(__name__)

_CHANGED = """
SELECT sku, greatest(sum(available), 0)::bigint FROM inventory_level GROUP BY sku
EXCEPT
SELECT sku, available FROM notify_stock_sync
ORDER BY 1
"""


class StockSync:
    """Publishes changed available stock per sku for every stock-sync channel."""

    def __init__(
        self,
        settings: Settings,
        connect: Callable[[], psycopg.Connection[Any]],
        producer: Callable[[], Producer],
    ) -> None:
        self.settings = settings
        self.connect = connect
        self._producer_factory = producer
        self._producer: Producer | None = None
        self.conn: psycopg.Connection[Any] | None = None
        self.next_at = 0.0
        self.published = 0

    def sync(self) -> int:
        """Publish what changed if the interval has passed; returns skus published."""
        if time.monotonic() < self.next_at:
            return 0
        self.next_at = time.monotonic() + self.settings.notifier.stock_sync_s
        if self.conn is None or self.conn.closed or self.conn.broken:
            self.conn = self.connect()
        exists = self.conn.execute("SELECT to_regclass('inventory_level')").fetchone()
        if not exists or exists[0] is None:
            return 0  # the inventory projection does not run in this schema (yet)
        changed = self.conn.execute(_CHANGED).fetchall()
        if not changed:
            return 0
        if self._producer is None:
            self._producer = self._producer_factory()
        at = datetime.now(UTC).isoformat()
        for channel in topics.STOCK_SYNC_CHANNELS:
            topic = topics.name(self.settings, topics.channel_stock(channel))
            for sku, available in changed:
                body = {"channel": channel, "sku": sku, "available": available, "at": at}
                self._producer.send(topic, key=sku.encode(), value=json.dumps(body).encode())
        self._producer.flush(30)
        with self.conn.transaction():
            self.conn.cursor().executemany(
                "INSERT INTO notify_stock_sync (sku, available) VALUES (%s, %s) "
                "ON CONFLICT (sku) DO UPDATE SET available = excluded.available, "
                "synced_at = now()",
                changed,
            )
        self.published += len(changed)
        log.info("stock synced", skus=len(changed), channels=len(topics.STOCK_SYNC_CHANNELS))
        return len(changed)

    def close(self) -> None:
        """Close the connection and the producer."""
        if self.conn is not None:
            self.conn.close()
        if self._producer is not None:
            self._producer.close()
