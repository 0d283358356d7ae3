"""Every order to its end with engines SIGKILLed (issue 15): the full-life simulation of
``test_full_life.py`` with the engine as two ``oms run`` processes (orders and stock; the
parcels, money and returns), each SIGKILLed mid-run and started again — during intake
and allocation, then during deliveries and returns — reaches the same invariants as the
fault-free run, asserted by that module's own checks, and decides every order once."""

from __future__ import annotations

import dataclasses
import subprocess
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

from oms_events import audit, topics
from oms_events.settings import Settings
from tests.integration.engine import test_full_life as full_life
from tests.integration.engine.harness import CODEC, engine_process, read_topic

# Two processes split by roles, as `oms run --only` deploys them.
ROLES = {
    "orders": ("inventory", "order"),
    "parcels": ("shipment", "warehouse", "carrier", "payment", "return"),
}
# The fault-free run's plan, its orders published over 4 s (not 2) so that a kill lands
# while they are being decided. A killed engine's open transaction holds its partitions'
# events back for up to ~20 s (transaction timeout plus the broker's abort sweep), and its
# successor takes over after the session timeout: the simulation waits that long for
# parcels to move before it gives up on them, and the warehouse has a parcel returned to
# sender back only once the carrier's push could have reached the shipment. (A parcel
# back before its push is taken as returned since db66594, unit-tested in
# tests/unit/engine/test_returned_to_sender.py; with the fault-free run's 3 s here, one
# CI run of two left one order shipped: not understood yet, so this run keeps 30 s.)
PLAN = dataclasses.replace(full_life.PLAN, rate=60.0, quiet=40.0, back_after=30.0)


@dataclass(frozen=True)
class Kill:
    """One SIGKILL: which process, in which stage of the run, how far the stage was."""

    process: str
    stage: str
    done: int
    total: int
    at: float  # time.monotonic() of the kill


class Chaos:
    """The two engine processes, and the plan of which to kill when: called with the
    simulation's progress (from two threads), it kills and restarts at once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.procs = {name: self.start(name) for name in ROLES}
        self.kills: list[Kill] = []
        self.lock = threading.Lock()
        self.parcels_at: int | None = None  # parcels ended when the parcels engine died

    def start(self, name: str) -> subprocess.Popen[bytes]:
        """``oms run --only`` the roles of ``name``, with the fault-free run's settings."""
        env = {"OMS_RETURNS_WINDOW_DAYS": str(full_life.RETURN_WINDOW_DAYS)}
        return engine_process(self.settings, *ROLES[name], extra_env=env)

    def _kill(self, name: str, stage: str, done: int, total: int) -> None:
        proc = self.procs[name]
        proc.kill()  # SIGKILL: no clean shutdown, transactions left open
        proc.wait()
        self.kills.append(Kill(name, stage, done, total, time.monotonic()))
        self.procs[name] = self.start(name)

    def on_progress(self, stage: str, done: int, total: int) -> None:
        """Kill (and restart) the orders engine once a third of the orders are decided,
        the parcels engine as soon as the run waits on parcels, and the orders engine
        again once half of the parcels left then have ended."""
        with self.lock:
            n = len(self.kills)
            if stage == "orders" and n == 0 and 3 * done >= total and done < total:
                self._kill("orders", stage, done, total)
            elif stage == "parcels" and n == 1 and done < total:
                self.parcels_at = done
                self._kill("parcels", stage, done, total)
            elif (
                stage == "parcels"
                and n == 2
                and self.parcels_at is not None
                and total + self.parcels_at <= 2 * done < 2 * total
            ):
                self._kill("orders", stage, done, total)

    def stop(self) -> list[int]:
        """SIGTERM the live processes; their exit codes."""
        for proc in self.procs.values():
            proc.terminate()
        return [proc.wait(60) for proc in self.procs.values()]


@dataclass
class Survived:
    lived: full_life.Lived
    kills: list[Kill]
    exits: list[int]
    seconds: float  # from the first stock received to the audit
    settling: float  # from the last kill to the audit
    aborted: int  # events records written by killed engines and aborted


@pytest.fixture(scope="module")
def survived(
    dev_services: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Survived]:
    settings = full_life.life_settings(dev_services, tmp_path_factory.mktemp("dev"))
    with full_life.life_stage(settings) as schema:
        chaos = Chaos(settings)
        try:
            started = time.monotonic()
            lived = full_life.live(settings, schema, PLAN, chaos.on_progress)
            seconds = time.monotonic() - started
        finally:
            exits = chaos.stop()
        settling = started + seconds - chaos.kills[-1].at if chaos.kills else 0.0
        aborted = sum(
            len(read_topic(settings, t, "read_uncommitted")) - len(read_topic(settings, t))
            for t in (topics.name(settings, topics.events(k)) for k in ("order", "shipment"))
        )
        yield Survived(lived, chaos.kills, exits, seconds, settling, aborted)


def test_engines_were_killed_mid_run_in_both_phases(survived: Survived) -> None:
    kills = survived.kills
    print(
        f"kills: {kills}; {survived.seconds:.1f} s from stock to audit, "
        f"{survived.settling:.1f} s from the last kill; {survived.aborted} aborted records"
    )
    assert [(k.process, k.stage) for k in kills] == [
        ("orders", "orders"),
        ("parcels", "parcels"),
        ("orders", "parcels"),
    ]
    # Each while its stage had work left: orders undecided, parcels on the road.
    assert all(k.done < k.total for k in kills), kills
    # The last engines shut down cleanly: a restarted engine is a working one.
    assert survived.exits == [0, 0]


def test_every_order_is_decided_and_every_parcel_lives_to_an_end(survived: Survived) -> None:
    full_life.test_every_order_is_decided_and_every_parcel_lives_to_an_end(survived.lived)


def test_the_stock_books_balance_against_the_projection(survived: Survived) -> None:
    full_life.test_the_stock_books_balance_against_the_projection(survived.lived)


def test_every_order_is_at_an_end(survived: Survived) -> None:
    full_life.test_every_order_is_at_an_end(survived.lived)


def test_every_interception_is_answered_by_the_carrier(survived: Survived) -> None:
    full_life.test_every_interception_is_answered_by_the_carrier(survived.lived)


def test_every_order_is_placed_and_allocated_once(survived: Survived) -> None:
    s = survived.lived.settings
    events = audit.read_events(s, CODEC, "order")
    run = set(survived.lived.found.orders)
    placed = Counter(str(e.originator_id) for e in events if e.name == "OrderPlaced")
    allocated = Counter(str(e.originator_id) for e in events if e.name == "OrderAllocated")
    assert set(placed) >= run and max(placed.values()) == 1
    assert max(allocated.values()) == 1
    # One writer per aggregate version, whichever engine wrote it.
    for kind in ("order", "inventory", "shipment", "payment", "return"):
        versions = Counter(
            (e.originator_id, e.originator_version) for e in audit.read_events(s, CODEC, kind)
        )
        assert max(versions.values()) == 1, f"two writers appended the same {kind} version"


def test_no_tender_is_refunded_more_than_it_captured(survived: Survived) -> None:
    lived = survived.lived
    with psycopg.connect(lived.settings.postgres.dsn) as conn:
        rows = conn.execute(
            sql.SQL("SELECT tender, kind, amount FROM {}.payment_ledger").format(
                sql.Identifier(lived.schema)
            )
        ).fetchall()
    captured: dict[str, int] = defaultdict(int)
    refunded: dict[str, int] = defaultdict(int)
    for tender, kind, amount in rows:
        if kind == "capture":
            captured[tender] += amount
        else:
            refunded[tender] -= amount  # refunds are signed negative
    # Returns were refunded through the restarted payment processor.
    assert sum(captured.values()) > 0 and sum(refunded.values()) > 0
    over = {t: (captured[t], r) for t, r in refunded.items() if r > captured[t]}
    assert over == {}, f"refunded more than captured (captured, refunded): {over}"
