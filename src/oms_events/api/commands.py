"""The command desk: sends an operator's command to Kafka, notes it in ``api_command``
with its actor, and reads the engine's answer in the background.

``send`` returns once Kafka has the command (the API then answers 202); the answer is
read the way the CLI reads it (:class:`oms_events.answers.AnswerWatch`: from where the
events and replies topics ended before the send), for up to ``api.command_wait_s``, and
recorded: ``applied`` with the events' names, or ``rejected`` with the rule's words.
No answer in time leaves it ``pending`` with a note (is the engine running?). The
offsets the answer is read from are kept with the command, so a restarted server
watches again for the commands still pending (:meth:`CommandDesk.resume`).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from psycopg.types.json import Jsonb

from oms_events.answers import Answer, AnswerWatch
from oms_events.api.database import Database, Row
from oms_events.avro.registry import codec_from_settings
from oms_events.engine.commands import COMMANDS, Command
from oms_events.kafka.connection import producer
from oms_events.settings import Settings

log = structlog.get_logger(__name__)
_BY_NAME = {c.__name__: c for c in COMMANDS.values()}


class CommandDesk:
    """Sends commands and keeps their outcomes."""

    def __init__(self, settings: Settings, db: Database, watchers: int = 8) -> None:
        self.settings = settings
        self.db = db
        self.codec = codec_from_settings(settings)
        self._producer: Any | None = None
        self._lock = threading.Lock()
        self.pool = ThreadPoolExecutor(watchers, thread_name_prefix="oms-api-answer")
        self.closing = False

    def _via(self) -> Any:
        with self._lock:
            if self._producer is None:
                self._producer = producer(self.settings)
            return self._producer

    def send(self, action: str, command: Command, order_id: Any, actor: str) -> str:
        """Send ``command`` (KafkaError when Kafka does not take it); its id."""
        watch = AnswerWatch(self.settings, self.codec, command.command_id, command.aggregate_type)
        try:
            self.db.execute(
                "INSERT INTO api_command (command_id, action, command, order_id, actor, status, "
                "watch_from) VALUES (%s, %s, %s, %s, %s, 'pending', %s)",
                command.command_id,
                action,
                type(command).__name__,
                order_id,
                actor,
                Jsonb(watch.start),
            )
            watch.send(command, self._via(), actor=actor)
        except BaseException:
            watch.close()
            self.db.execute(
                "DELETE FROM api_command WHERE command_id = %s AND status = 'pending'",
                command.command_id,
            )
            raise
        self.pool.submit(self._await, watch)
        return command.command_id

    def resume(self, within_s: float = 86_400) -> int:
        """Watch again for the commands still pending that were sent in the last
        ``within_s`` (a restarted server); how many."""
        rows = self.db.rows(
            "SELECT command_id::text, command, watch_from FROM api_command "
            "WHERE status = 'pending' AND watch_from IS NOT NULL "
            "AND sent_at > now() - make_interval(secs => %s)",
            within_s,
        )
        for row in rows:
            aggregate_type = _BY_NAME[row["command"]].aggregate_type
            watch = AnswerWatch(
                self.settings, self.codec, row["command_id"], aggregate_type, row["watch_from"]
            )
            self.pool.submit(self._await, watch)
        return len(rows)

    def _await(self, watch: AnswerWatch) -> None:
        command_id = watch.command_id
        try:
            answer = watch.read(self.settings.api.command_wait_s)
            if self.closing:
                return  # still pending: the next server's resume() reads it
            self._record(command_id, answer)
        except Exception as error:  # a lost watch must not end the server
            log.warning("command answer not read", command_id=command_id, error=str(error))
            self.db.execute(
                "UPDATE api_command SET reason = %s WHERE command_id = %s AND status = 'pending'",
                f"the answer could not be read: {type(error).__name__}",
                command_id,
            )
        finally:
            watch.close()

    def _record(self, command_id: str, answer: Answer | None) -> None:
        if answer is None:
            self.db.execute(
                "UPDATE api_command SET reason = %s WHERE command_id = %s AND status = 'pending'",
                f"no answer from the engine within {self.settings.api.command_wait_s:g} s "
                "(is it running?)",
                command_id,
            )
        elif answer.refusal is not None:
            r = answer.refusal
            self.db.execute(
                "UPDATE api_command SET status = 'rejected', reason = %s, answered_at = now() "
                "WHERE command_id = %s AND status = 'pending'",
                f"{r.get('code')}: {r.get('message_en')} / {r.get('message_zh')}",
                command_id,
            )
        else:
            self.db.execute(
                "UPDATE api_command SET status = 'applied', reason = NULL, events = %s, "
                "answered_at = now() WHERE command_id = %s AND status = 'pending'",
                [e.name for e in answer.events],
                command_id,
            )

    def outcome(self, command_id: str) -> Row | None:
        """The command's row (status, reason, events, actor), or None."""
        return self.db.row(
            "SELECT command_id::text, action, command, order_id::text, actor, status, reason, "
            "events, sent_at, answered_at FROM api_command WHERE command_id::text = %s",
            command_id,
        )

    def close(self) -> None:
        """Stop the watchers (their consumers close) and the producer; commands still
        pending stay so, to be watched again by :meth:`resume`."""
        self.closing = True
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self._producer is not None:
            self._producer.close()
