"""Projections that outlive an outage: what ``oms project`` runs.

Each projection gets a connection (its schema migrated) and a :class:`Runner`; batches
are applied in turn until ``stop``. When PostgreSQL goes away (a restart, a failover,
the network) the batch in hand rolls back, the supervisor logs ``waiting for
PostgreSQL``, reconnects with capped exponential backoff, and every runner resumes from
the offsets its database holds — the rows and offsets of a batch commit together, so
nothing is applied twice or skipped. A Kafka error (a dead-letter flush that timed out)
is waited out the same way, from the same offsets. Only ``stop`` (SIGTERM) ends it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import structlog

from oms_events import waits
from oms_events.avro.codec import Codec
from oms_events.kafka.errors import KafkaError, KafkaUnavailable
from oms_events.privacy.keystore import KeyStoreUnavailable
from oms_events.projection.migrate import migrate_as_owner
from oms_events.projection.runner import Runner, connect
from oms_events.projection.spec import Projection
from oms_events.recovery import Backoff
from oms_events.settings import Settings

log = structlog.get_logger(__name__)

# PostgreSQL is unreachable or restarting: wait for it rather than exit.
POSTGRES_DOWN = (psycopg.OperationalError, psycopg.InterfaceError)


class Supervisor:
    """Runs ``projections`` into ``schema`` until ``stop()``, waiting out outages."""

    def __init__(
        self,
        settings: Settings,
        projections: Sequence[Projection],
        schema: str,
        stop: Callable[[], bool],
        *,
        batch_size: int = 5000,
        max_wait: float = 0.2,
        codec: Codec | None = None,
        each_round: Callable[[], object] | None = None,
    ) -> None:
        """``each_round`` runs after every round of batches, under the same outage waits
        (the notifier sends what is due there)."""
        self.settings = settings
        self.each_round = each_round
        self.projections = list(projections)
        self.schema = schema
        self.stop = stop
        self.batch_size = batch_size
        self.max_wait = max_wait
        self.codec = codec
        self.runners: list[Runner] = []
        self.backoff = Backoff(
            settings.recovery, stop, waits.WaitBoard(waits.folder(settings), "projections")
        )
        self._lost = False  # the connections broke: reconnect before the next batch

    def _connect(self, projection: Projection) -> psycopg.Connection[Any]:
        # The run-time role: rows only; the tables are the migrator's (_start).
        return connect(
            self.settings.postgres.dsn,
            self.schema,
            f"oms-project-{projection.name}",
            create=False,
        )

    def _start(self) -> None:
        # Several projections share the wait: each polls briefly in turn.
        wait = self.max_wait / len(self.projections)
        for p in self.projections[len(self.runners) :]:
            migrate_as_owner(self.settings, self.schema, [p])
            conn = self._connect(p)
            try:
                runner = Runner(
                    self.settings,
                    p,
                    conn,
                    batch_size=self.batch_size,
                    max_wait=wait,
                    codec=self.codec,
                )
            except BaseException:
                conn.close()  # tried again after the wait, over a new connection
                raise
            self.runners.append(runner)

    def _reconnect(self) -> None:
        for runner in self.runners:
            runner.reconnect(self._connect(runner.projection))
        self._lost = False

    def run(self) -> None:
        """Apply batches until ``stop()``; never returns for an outage."""
        while not self.stop():
            try:
                if len(self.runners) < len(self.projections):
                    self._start()
                if self._lost:
                    self._reconnect()
                for runner in self.runners:
                    runner.step()
                if self.each_round is not None:
                    self.each_round()
                self.backoff.recovered()
            except (*POSTGRES_DOWN, KeyStoreUnavailable) as error:
                self._lost = True
                self.backoff.wait("PostgreSQL", error)
            except (KafkaError, KafkaUnavailable) as error:
                # Re-read the batch whose dead letters did not go out, from the offsets
                # in the database (over a fresh connection, as after a PostgreSQL loss).
                self._lost = True
                self.backoff.wait("Kafka", error)

    def close(self) -> None:
        """Close every runner's Kafka clients and connection."""
        for runner in self.runners:
            runner.close()
            runner.conn.close()
