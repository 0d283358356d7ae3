"""Sending the planned notifications: each row once, retried with capped backoff,
dead-lettered after the last attempt.

A row is claimed with ``FOR UPDATE SKIP LOCKED`` in its own transaction, sent, and marked
in that same transaction: two notifiers never send the same row at once, and a row is
marked sent only after the far side took it. A SIGKILL between the far side's "taken"
and our commit leaves the row pending, so that one message goes again with the same
idempotency token (the mail's Message-ID, the webhook's Idempotency-Key): at least once
out of the process, once per token at a receiver that keeps the tokens it has seen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import psycopg
import structlog

from oms_events import deadletter, topics
from oms_events.kafka.port import Producer
from oms_events.notifications import channels
from oms_events.notifications.channels import Delivery, DeliveryFailed, Sender
from oms_events.notifications.masking import mask, mask_text
from oms_events.settings import Settings

log = structlog.get_logger(__name__)

UNDELIVERABLE = "notify.undeliverable"

_CLAIM = """
SELECT n.key, n.channel, n.recipient, n.locale, n.subject, n.body, n.attempts,
       n.order_id, o.external_id, s.source, sub.url, sub.secret,
       n.channel = 'webhook' AND sub.subscriber_id IS NULL AS gone,
       n.channel IN ('email', 'sms') AND EXISTS (
           SELECT 1 FROM notify_opt_out x
           WHERE x.customer IN (o.phone, o.email, o.account)
             AND x.channel IN (n.channel, 'all')) AS opted_out
FROM notification n
JOIN notify_order o ON o.order_id = n.order_id
JOIN notify_step s ON s.event_key = n.event_key
LEFT JOIN notify_subscriber sub ON n.channel = 'webhook' AND sub.subscriber_id = n.recipient
WHERE n.status = 'pending' AND n.next_attempt_at <= now()
ORDER BY n.next_attempt_at, n.created_at
LIMIT 1
FOR UPDATE OF n SKIP LOCKED
"""


def backoff_s(attempts: int, base_s: float, cap_s: float) -> float:
    """Wait after the ``attempts``-th failed attempt: base, 2 x base, 4 x base ... cap."""
    return float(min(cap_s, base_s * 2 ** (attempts - 1)))


class Dispatcher:
    """Sends due notifications over ``senders`` (channel -> sender)."""

    def __init__(
        self,
        settings: Settings,
        connect: Callable[[], psycopg.Connection[Any]],
        senders: Mapping[str, Sender],
        letters: Callable[[], Producer],
    ) -> None:
        """``connect`` opens an autocommit connection in the notifier's schema (again
        after an outage); ``letters`` the dead-letter producer, opened on first use."""
        self.settings = settings
        self.connect = connect
        self.conn: psycopg.Connection[Any] | None = None
        self.senders = senders
        self.enabled = settings.notifier.channel_set()
        self._letters_factory = letters
        self._letters: Producer | None = None
        self.counts = {"sent": 0, "retried": 0, "dead": 0, "skipped": 0}

    def dispatch(self, limit: int = 100) -> int:
        """Settle up to ``limit`` due rows; returns how many were settled or retried."""
        if self.conn is None or self.conn.closed or self.conn.broken:
            self.conn = self.connect()
        done = 0
        while done < limit:
            with self.conn.transaction():
                row = self.conn.execute(_CLAIM).fetchone()
                if row is None:
                    break
                self._settle(self.conn, row)
            done += 1
        return done

    def _settle(self, conn: psycopg.Connection[Any], row: tuple[Any, ...]) -> None:
        (key, channel, recipient, locale, subject, body, attempts, order_id, external_id,
         source, url, secret, gone, opted_out) = row  # fmt: skip
        shown = mask(recipient)
        skip = None
        if channel not in self.enabled:
            skip = "channel disabled (OMS_NOTIFIER_CHANNELS)"
        elif opted_out:
            skip = "customer opted out"
        elif gone:
            skip = "subscriber removed"
        if skip is not None:
            conn.execute(
                "UPDATE notification SET status = 'skipped', last_error = %s, settled_at = now() "
                "WHERE key = %s",
                (skip, key),
            )
            self.counts["skipped"] += 1
            log.info("notification skipped", channel=channel, recipient=shown, why=skip)
            return
        token = channels.token(key)
        delivery = Delivery(
            key, token, channel, recipient, locale, subject, body, external_id, url, secret
        )
        attempts += 1
        try:
            self.senders[channel].send(delivery)
        except DeliveryFailed as exc:
            error = mask_text(str(exc))
            if attempts >= self.settings.notifier.max_attempts:
                self._dead_letter(delivery, source, order_id, attempts, error)
                conn.execute(
                    "UPDATE notification SET status = 'dead', attempts = %s, last_error = %s, "
                    "settled_at = now() WHERE key = %s",
                    (attempts, error, key),
                )
                self.counts["dead"] += 1
                log.warning(
                    "notification dead-lettered",
                    channel=channel,
                    recipient=shown,
                    attempts=attempts,
                    error=error,
                )
                return
            wait = backoff_s(
                attempts, self.settings.notifier.retry_base_s, self.settings.notifier.retry_cap_s
            )
            conn.execute(
                "UPDATE notification SET attempts = %s, last_error = %s, "
                "next_attempt_at = now() + make_interval(secs => %s) WHERE key = %s",
                (attempts, error, wait, key),
            )
            self.counts["retried"] += 1
            log.info(
                "notification failed; retrying",
                channel=channel,
                recipient=shown,
                attempts=attempts,
                retry_in_s=wait,
                error=error,
            )
            return
        conn.execute(
            "UPDATE notification SET status = 'sent', attempts = %s, last_error = NULL, "
            "settled_at = now() WHERE key = %s",
            (attempts, key),
        )
        self.counts["sent"] += 1
        log.info("notification sent", channel=channel, recipient=shown, token=token)

    def _dead_letter(
        self, d: Delivery, source: str, order_id: Any, attempts: int, error: str
    ) -> None:
        topic, partition, offset = source.rsplit("/", 2)
        shown = mask(d.recipient)
        letter = deadletter.DeadLetter(
            deadletter.Reason(
                UNDELIVERABLE,
                "recipient",
                f"{d.channel} to {shown} failed {attempts} times; last: {error}",
                f"{d.channel} 发送至 {shown} 失败 {attempts} 次；最后一次：{error}",
                DeliveryFailed.__name__,
            ),
            deadletter.Source(topic, int(partition), int(offset)),
            f"notifier.{d.channel}",
            {
                "key": d.token,
                "channel": d.channel,
                "recipient": shown,
                "order_id": str(order_id),
                "attempts": str(attempts),
            },
        )
        if self._letters is None:
            self._letters = self._letters_factory()
        self._letters.send(
            topics.name(self.settings, topics.DEADLETTER),
            key=d.token.encode(),
            value=d.body.encode(),
            headers=letter.headers(),
        )
        # Flushed before the row is marked dead: a crash now repeats the letter, never
        # loses it.
        self._letters.flush(30)

    def close(self) -> None:
        """Close the connection and the dead-letter producer."""
        if self.conn is not None:
            self.conn.close()
        if self._letters is not None:
            self._letters.close()
