"""How a notification leaves: by mail (SMTP), SMS (a provider port, a local sandbox),
a signed webhook, or the sales channel's outbound topic.

Each sender raises :class:`DeliveryFailed` when the far side did not take the message;
the dispatcher then retries it later with the same idempotency token, which the far
side sees as the mail's Message-ID, the webhook's ``Idempotency-Key``, the SMS request
id, or the ``idempotency-key`` header of a channel's ship call.
"""

from __future__ import annotations

import hashlib
import json
import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Protocol

import httpx

from oms_events import topics
from oms_events.kafka.errors import KafkaError, KafkaUnavailable
from oms_events.kafka.port import Producer
from oms_events.notifications import signature
from oms_events.settings import NotifierSettings, Settings


def token(key: str) -> str:
    """A notification's key as the outside world sees it (Message-ID, Idempotency-Key,
    SMS request id): a digest, so a mail address in the key never leaves in a header."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class DeliveryFailed(RuntimeError):
    """The far side did not take the message this time; try again later."""


@dataclass(frozen=True)
class Delivery:
    """One notification row as a sender needs it."""

    key: str
    token: str  # the idempotency key the outside world sees
    channel: str
    recipient: str
    locale: str
    subject: str
    body: str
    external_id: str  # the order id at its sales channel (keys channel feedback)
    url: str | None = None  # a webhook subscriber's
    secret: str | None = None


class Sender(Protocol):
    """Delivers one kind of notification."""

    def send(self, delivery: Delivery) -> None:
        """Deliver or raise :class:`DeliveryFailed`."""
        ...


class Mail:
    """Mail over SMTP, one connection per message (the notifier sends a few a second)."""

    def __init__(self, settings: NotifierSettings) -> None:
        self.settings = settings

    def send(self, delivery: Delivery) -> None:
        """Hand the mail to the SMTP server; its Message-ID is the idempotency token."""
        s = self.settings
        message = EmailMessage()
        message["From"] = s.mail_from
        message["To"] = delivery.recipient
        message["Subject"] = delivery.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = f"<{delivery.token}@oms-events>"
        message["Content-Language"] = "zh-CN" if delivery.locale == "zh" else "en"
        message.set_content(delivery.body)
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.send_timeout_s) as smtp:
                if s.smtp_starttls:
                    smtp.starttls()
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password)
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"SMTP {s.smtp_host}:{s.smtp_port}: {exc}") from exc


class SmsProvider(Protocol):
    """An SMS provider (Aliyun, Tencent Cloud, ...): one text to one phone."""

    def send_sms(self, phone: str, text: str, request_id: str) -> None:
        """Send or raise :class:`DeliveryFailed`; ``request_id`` repeats on a retry."""
        ...


class SandboxSms:
    """The local SMS provider: every text is one JSON line in a file, which a developer
    reads (``tail -f``) and a test counts."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def send_sms(self, phone: str, text: str, request_id: str) -> None:
        """Append ``{"request_id", "phone", "text", "sent_at"}`` to the outbox file."""
        line = {"request_id": request_id, "phone": phone, "text": text, "sent_at": time.time()}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
        except OSError as exc:
            raise DeliveryFailed(f"SMS sandbox {self.path}: {exc}") from exc


class Sms:
    """SMS through a provider."""

    def __init__(self, provider: SmsProvider) -> None:
        self.provider = provider

    def send(self, delivery: Delivery) -> None:
        """Send the text; the request id is the idempotency token."""
        self.provider.send_sms(delivery.recipient, delivery.body, delivery.token)


class Webhook:
    """A signed POST to a subscriber; any 2xx answer takes the message."""

    def __init__(self, settings: NotifierSettings) -> None:
        self.client = httpx.Client(timeout=settings.send_timeout_s)

    def send(self, delivery: Delivery) -> None:
        """POST the JSON body with its signature headers."""
        if not delivery.url or delivery.secret is None:
            raise DeliveryFailed(f"subscriber {delivery.recipient} has no URL")
        body = delivery.body.encode()
        headers = signature.headers(delivery.secret, int(time.time()), body, delivery.token)
        try:
            answer = self.client.post(delivery.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{delivery.url}: {exc}") from exc
        if not answer.is_success:
            raise DeliveryFailed(f"{delivery.url} answered HTTP {answer.status_code}")


class ChannelFeed:
    """The sales channel's outbound topic (``oms.channel.<channel>.shipping``)."""

    def __init__(self, settings: Settings, producer: Producer) -> None:
        self.settings = settings
        self.producer = producer

    def send(self, delivery: Delivery) -> None:
        """Publish the ship call, keyed by the channel's order id, and wait for the ack."""
        topic = topics.name(self.settings, topics.channel_shipping(delivery.recipient))
        try:
            self.producer.send(
                topic,
                key=delivery.external_id.encode(),
                value=delivery.body.encode(),
                headers=[("idempotency-key", delivery.token.encode())],
            )
            self.producer.flush(self.settings.notifier.send_timeout_s)
        except (KafkaError, KafkaUnavailable) as exc:
            raise DeliveryFailed(f"{topic}: {exc}") from exc


def sms_outbox(settings: Settings) -> Path:
    """The SMS sandbox's file: the setting, or ``<OMS_DEV_DATA_DIR>/notifier/sms.jsonl``."""
    return settings.notifier.sms_sandbox_file or settings.dev.data_dir / "notifier" / "sms.jsonl"
