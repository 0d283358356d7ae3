"""The baseline: the same workload through ``eventsourcing``'s own PostgreSQL module.

One process, one thread doing the work, the library's way: an ``Application``
subclass with ``PERSISTENCE_MODULE=eventsourcing.postgres`` storing the same domain
aggregates (Order, InventoryItem). Per PlaceOrder delivery (the same Avro bytes the
engine gets) it decodes, places the Order, reserves every line on the InventoryItem
of the location with the most stock (an in-memory view, as the engine's saga has),
confirms and allocates, and saves the order and the items in one ``save`` (one
PostgreSQL transaction): synchronous, so "confirmed" is when ``save`` returns. A
cancelled order is cancelled right after, releasing its reservations (another save).
Invalid deliveries are counted and dropped (no dead-letter topic here).

``AGGREGATE_CACHE_MAXSIZE`` is on by default (the library's cache for a single
writer): without it every reservation replays the item's whole history, which with
Zipf-hot skus makes the baseline quadratic (``--no-cache`` shows that).

    python -m bench.e2e.baseline --rates 100,250,500 --seconds 20 --max-seconds 10

prints one JSON document (last line of stdout).
"""

from __future__ import annotations

import argparse
import json
import queue
import threading
import time
import uuid
from collections import defaultdict
from typing import Any

import psycopg
from bench.e2e.stats import summary_ms, verdict
from bench.e2e.workload import UNDECODABLE, Kind, Mix, Workload, schedule
from eventsourcing.application import Application
from psycopg import sql

from oms_events import topics
from oms_events.avro.codec import DecodeError
from oms_events.avro.registry import codec_from_settings
from oms_events.domain import InventoryItem
from oms_events.domain.errors import DomainError
from oms_events.domain.inventory import ReservationOutcome
from oms_events.engine import commands
from oms_events.engine.commands import PlaceOrder
from oms_events.engine.order_service import order_from_command
from oms_events.settings import Settings


def postgres_environment(postgres_dsn: str, schema: str) -> dict[str, str]:
    """The environment that runs an eventsourcing Application on the library's own
    PostgreSQL module, in ``schema`` of the database ``postgres_dsn`` names (a role
    that may create tables there: the migrator's)."""
    # The library takes the connection in parts, and the dev roles' DSNs keep the
    # password in a libpq password file: a connection tells what libpq used.
    with psycopg.connect(postgres_dsn) as conn:
        info = conn.info
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": info.dbname,
            "POSTGRES_HOST": info.host,
            "POSTGRES_PORT": str(info.port),
            "POSTGRES_USER": info.user,
            "POSTGRES_PASSWORD": info.password or "",
            "POSTGRES_SCHEMA": schema,
        }


class Shop(Application[uuid.UUID]):
    """Orders and stock in one eventsourcing application."""


class Baseline:
    """The workload against one :class:`Shop` in a fresh PostgreSQL schema."""

    def __init__(self, mix: Mix, stock: int, cache: bool) -> None:
        self.settings = Settings()
        self.tag = uuid.uuid4().hex[:6]
        self.schema = f"bench_{self.tag}_es"
        self.env = postgres_environment(self.settings.postgres.migrator_dsn, self.schema)
        if cache:
            self.env["AGGREGATE_CACHE_MAXSIZE"] = "100000"
        with psycopg.connect(self.settings.postgres.migrator_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
        self.app = Shop(env=self.env)
        self.codec = codec_from_settings(self.settings)
        self.workload = Workload(mix, self.tag)
        self.stock = stock
        self.available: dict[tuple[str, str], int] = {}
        self.dead = 0

    def receive_stock(self) -> None:
        """Register and receive every (sku, location), 100 items per save."""
        batch = []
        for sku in self.workload.skus:
            for location in self.workload.locations:
                item = InventoryItem.register(sku, location, 0)
                item.receive(self.stock, "bench")
                batch.append(item)
                self.available[(sku, location)] = self.stock
                if len(batch) == 100:
                    self.app.save(*batch)
                    batch = []
        if batch:
            self.app.save(*batch)

    def _choose(self, sku: str, quantity: int, tried: list[str]) -> str | None:
        candidates = [loc for loc in self.workload.locations if loc not in tried]
        if not candidates:
            return None
        best = max(candidates, key=lambda loc: self.available[(sku, loc)])
        return best if not tried or self.available[(sku, best)] >= quantity else None

    def handle(self, kind: Kind, value: bytes) -> bool:
        """One PlaceOrder delivery, start to confirmed (and cancelled if it is one);
        False when it was invalid."""
        try:
            command = commands.decode(self.codec, value)
            if not isinstance(command, PlaceOrder):
                raise ValueError(f"{command.name} is not a PlaceOrder")
            order = order_from_command(command)
        except (DecodeError, DomainError, KeyError, ValueError, TypeError):
            self.dead += 1
            return False
        items: dict[uuid.UUID, InventoryItem] = {}
        for line_no in sorted(order.lines):
            line = order.lines[line_no]
            tried: list[str] = []
            while (location := self._choose(line.sku, line.quantity, tried)) is not None:
                item_id = InventoryItem.create_id(line.sku, location)
                item = items.get(item_id) or self.app.repository.get(item_id)
                items[item_id] = item
                rid = order.reservation_id(line_no)
                outcome = item.try_reserve(rid, order.id, line.quantity)
                self.available[(line.sku, location)] = item.available
                if outcome is ReservationOutcome.RESERVED:
                    order.reserve_line(line_no, rid, location)
                    break
                tried.append(location)
        if order.all_lines_reserved:
            order.confirm()
            order.allocate()
        self.app.save(order, *items.values())
        if kind is Kind.CANCEL:
            held = dict(order.reservations)
            order.cancel("customer changed their mind")
            released: list[InventoryItem] = []
            for line_no, (rid, location) in held.items():
                item = self.app.repository.get(
                    InventoryItem.create_id(order.lines[line_no].sku, location)
                )
                item.release(rid)
                self.available[(item.sku, location)] = item.available
                released.append(item)
            self.app.save(order, *released)
        return True

    def deliveries(self, count: int) -> list[tuple[Kind, bytes]]:
        """The next ``count`` deliveries of the mix, Avro-encoded as the engine gets them."""
        out = []
        topic = topics.name(self.settings, topics.commands("order"))
        for d in self.workload.take(count):
            value = commands.encode(self.codec, d.order, topic=topic)
            if d.kind is Kind.UNDECODABLE:
                value = UNDECODABLE + d.external_id.encode()
            out.append((d.kind, value))
        return out

    def stage(self, rate: float, seconds: float, drain_s: float = 20.0) -> dict[str, Any]:
        """Open loop: a feeder thread enqueues on schedule, this thread works the queue
        until ``drain_s`` after the last send."""
        offsets = schedule(rate, seconds)
        work = self.deliveries(len(offsets))
        q: queue.Queue[tuple[float, Kind, bytes] | None] = queue.Queue()
        started = time.monotonic()

        def feed() -> None:
            for at, (kind, value) in zip(offsets, work, strict=True):
                delay = started + at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                q.put((time.monotonic(), kind, value))
            q.put(None)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        latencies: list[float] = []
        done_at: list[float] = []
        deadline = started + seconds + drain_s  # as the engine's stages drain
        while (item := q.get()) is not None:
            sent, kind, value = item
            if time.monotonic() > deadline:
                continue  # not completed: counted by the verdict, like the engine's
            if self.handle(kind, value):
                now = time.monotonic()
                latencies.append(now - sent)
                done_at.append(now)
        feeder.join()
        valid = sum(1 for k, _ in work if k in (Kind.ORDER, Kind.CANCEL))
        span = (offsets[-1] if offsets else 0) + 1 / rate
        offered = valid / span
        span_done = done_at[-1] - done_at[0] if len(done_at) > 1 else 0.0
        per_s = (len(done_at) - 1) / span_done if span_done > 0 else 0.0
        v = verdict(offered, per_s, valid, len(latencies), latencies)
        return {
            "stage": f"fixed{rate:g}",
            "rate": rate,
            "offered_per_s": offered,
            "confirmed": len(latencies),
            "confirmed_per_s": per_s,
            "sustained": v.sustained,
            "verdict": v.reason,
            "to_confirmed": summary_ms(latencies),
            "timeline": _timeline(
                started, [d - lat for d, lat in zip(done_at, latencies, strict=True)], done_at
            ),
        }

    def flat_out(self, seconds: float) -> dict[str, Any]:
        """Closed loop: as many orders as one thread places in ``seconds``."""
        work = self.deliveries(int(seconds * 3000))
        started = time.monotonic()
        done = 0
        for kind, value in work:
            if self.handle(kind, value):
                done += 1
            if time.monotonic() - started >= seconds:
                break
        elapsed = time.monotonic() - started
        return {"seconds": elapsed, "confirmed": done, "confirmed_per_s": done / elapsed}

    def close(self) -> None:
        """Close the application and drop its schema."""
        self.app.close()
        with psycopg.connect(self.settings.postgres.migrator_dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema))
            )


def _timeline(started: float, sent: list[float], done: list[float]) -> list[dict[str, Any]]:
    buckets: dict[int, list[float]] = defaultdict(list)
    for s, d in zip(sent, done, strict=True):
        buckets[int(d - started)].append(d - s)
    return [
        {"t": k, "confirmed": len(v), "p99_confirmed_ms": summary_ms(v)["p99_ms"]}
        for k, v in sorted(buckets.items())
    ]


def run(
    rates: list[float], seconds: float, max_seconds: float, mix: Mix, stock: int, cache: bool
) -> dict[str, Any]:
    """Every stage, then flat out; the schema is dropped afterwards."""
    b = Baseline(mix, stock, cache)
    try:
        t = time.monotonic()
        b.receive_stock()
        stock_s = time.monotonic() - t
        stages = [b.stage(rate, seconds) for rate in rates]
        flat = b.flat_out(max_seconds) if max_seconds > 0 else {}
        return {
            "settings": {k: v for k, v in b.env.items() if "PASSWORD" not in k},
            "stock_s": stock_s,
            "stages": stages,
            "flat_out": flat,
            "dead": b.dead,
        }
    finally:
        b.close()


def main() -> None:
    """CLI of the baseline child process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="100,250,500")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--max-seconds", type=float, default=10)
    parser.add_argument("--skus", type=int, default=1000)
    parser.add_argument("--stock", type=int, default=1_000_000)
    parser.add_argument("--no-cache", action="store_true")
    args = parser.parse_args()
    result = run(
        [float(r) for r in args.rates.split(",") if r],
        args.seconds,
        args.max_seconds,
        Mix(skus=args.skus),
        args.stock,
        not args.no_cache,
    )
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
