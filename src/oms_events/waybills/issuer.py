"""The port to the carriers' e-waybill services, and its sandbox.

Shops take e-waybill numbers (电子面单号) from each carrier's service (Cainiao,
SF's open platform, JD's …) against a prepaid range; the number is the parcel's
identity from then on. ``WaybillIssuer`` is what the warehouse documents need of such
a service; ``SandboxWaybillIssuer`` issues numbers in each carrier's real format
(``formats.py``) from a serial per carrier that is never reused: a PostgreSQL
sequence per carrier when running for real (``PostgresSerials``, in its own schema,
so rebuilding the projections never hands a number out twice), a counter in tests
(``MemorySerials``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, Protocol

import psycopg
from psycopg import sql

from oms_events.waybills.formats import waybill_format

SANDBOX_SCHEMA = "oms_waybill_sandbox"


class WaybillIssuer(Protocol):
    """A carrier's e-waybill service: one new number per parcel."""

    def issue(self, carrier: str) -> str:
        """A waybill number of ``carrier`` that was never issued before."""
        ...


class MemorySerials:
    """Serials counted in memory: unique within one process (tests)."""

    def __init__(self) -> None:
        self._last: defaultdict[str, int] = defaultdict(int)

    def __call__(self, carrier: str) -> int:
        self._last[carrier] += 1
        return self._last[carrier]


class PostgresSerials:
    """Serials from one PostgreSQL sequence per carrier: unique across processes."""

    def __init__(self, conn: psycopg.Connection[Any], schema: str = SANDBOX_SCHEMA) -> None:
        self.conn = conn
        self.schema = schema
        self._ready: set[str] = set()

    def __call__(self, carrier: str) -> int:
        sequence = sql.Identifier(self.schema, f"serial_{carrier.lower()}")
        if carrier not in self._ready:
            # IF NOT EXISTS is not race-free in PostgreSQL: two first callers may both
            # try; the loser's error is harmless and the sequence exists afterwards.
            for statement in (
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)),
                sql.SQL("CREATE SEQUENCE IF NOT EXISTS {}").format(sequence),
            ):
                try:
                    with self.conn.transaction():
                        self.conn.execute(statement)
                except psycopg.errors.UniqueViolation:
                    pass
            self._ready.add(carrier)
        row = self.conn.execute(
            sql.SQL("SELECT nextval({})").format(
                sql.Literal(f"{self.schema}.serial_{carrier.lower()}")
            )
        ).fetchone()
        assert row is not None
        return int(row[0])


class SandboxWaybillIssuer:
    """Issues numbers in the carriers' formats from ``serials`` (carrier -> next serial)."""

    def __init__(self, serials: Callable[[str], int]) -> None:
        self.serials = serials

    def issue(self, carrier: str) -> str:
        """The next number of ``carrier``'s range."""
        fmt = waybill_format(carrier)
        return fmt.make(self.serials(carrier))
