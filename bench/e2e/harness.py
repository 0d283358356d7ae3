"""The end-to-end run: engine and projections as subprocesses, open-loop load, figures.

Layout of one run (all on the local Kafka and PostgreSQL, isolated by a unique topic
prefix and a unique PostgreSQL schema, both removed at the end unless ``keep``):

* ``python -m oms_events.cli.run --only order`` — the order processor and saga;
* ``python -m oms_events.cli.run --only inventory --only shipment --only warehouse``;
* ``python -m oms_events.cli.main project --schema <schema>`` — every projection;
* this process: the publisher (open loop: sends on schedule whatever the engine
  answers), followers of ``oms.order.events`` and ``oms.deadletter``, a poller of
  ``order_tracking``, and a 1 Hz sampler of projection lag and engine RSS.

Times are ``time.monotonic()`` of this process: "publish" is the instant just before
``producer.send``; "confirmed" / "allocated" the instant the read_committed follower
hands over the event; "visible" the first poll (every ``poll_s``) that finds the
order's ``order_tracking`` row with ``confirmed_at`` set.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from bench.e2e.stats import summary_ms, verdict
from bench.e2e.workload import UNDECODABLE, Delivery, Kind, Mix, Workload, cancel_order, due
from bench.e2e.workload import schedule as make_schedule
from bench.events import drop_topics
from psycopg import sql

from oms_events import eventlog, topics
from oms_events.avro.codec import Codec
from oms_events.avro.registry import codec_from_settings
from oms_events.engine.commands import ReceiveStock
from oms_events.engine.records import CommandWriter, Outgoing
from oms_events.engine.runner import PROCESSORS
from oms_events.kafka.acls import apply_acls
from oms_events.kafka.admin import apply_topics
from oms_events.kafka.connection import READ_TO_END_WAIT_MS, consumer, producer
from oms_events.kafka.follower import Follower
from oms_events.kafka.port import Producer, Record
from oms_events.privacy.vault import sealed_in_one_batch
from oms_events.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
Say = Callable[[str], None]


DEFAULT_LAYOUT = {"order": ["order"], "stock": ["inventory", "shipment", "warehouse"]}
# The bench's orders are paid at the channel and never refunded: the payment processor
# (and its refund desk, which needs the providers' keys) has nothing to measure; its
# orders end when shipped, so the carrier adapter has nothing either, nor (nothing
# returned) the return processor.
BENCHED = tuple(p for p in PROCESSORS if p not in ("payment", "carrier", "return"))


def parse_layout(text: str) -> dict[str, list[str]]:
    """``order/inventory/shipment,warehouse`` -> one engine process per ``/``-part,
    running the ``,``-separated processors; named after its first processor
    (``stock`` for the default's second process, as earlier results call it)."""
    layout: dict[str, list[str]] = {}
    for part in text.split("/"):
        only = [p.strip() for p in part.split(",") if p.strip()]
        if not only:
            raise ValueError(f"empty process in layout {text!r}: write e.g. order/inventory")
        unknown = sorted(set(only) - set(BENCHED))
        if unknown:
            raise ValueError(f"unknown processors {unknown}: use {BENCHED}")
        name = "stock" if only == DEFAULT_LAYOUT["stock"] else only[0]
        if name in layout:
            raise ValueError(f"two processes named {name!r} in layout {text!r}")
        layout[name] = only
    placed = [p for only in layout.values() for p in only]
    if sorted(placed) != sorted(BENCHED):
        raise ValueError(f"each of {BENCHED} must run exactly once, got {placed}")
    return layout


@dataclass
class Options:
    """What ``oms bench`` runs."""

    rates: tuple[float, ...] = (100.0, 250.0, 500.0)
    seconds: float = 20.0
    ramp: bool = True
    ramp_seconds: float = 10.0
    ramp_factor: float = 1.25
    ramp_steps: int = 5
    drain_s: float = 20.0
    baseline: bool = True
    baseline_max_seconds: float = 10.0
    baseline_cache: bool = True
    replay: bool = True
    profile: bool = False
    mix: Mix = field(default_factory=Mix)
    stock: int = 1_000_000
    poll_s: float = 0.02
    # Engine processes: name -> the processors it runs (``oms run --only ...``).
    layout: dict[str, list[str]] = field(default_factory=lambda: dict(DEFAULT_LAYOUT))
    results: Path = ROOT / "bench" / "results"
    keep: bool = False


class Track:
    """What happened to one delivery, in this process's monotonic clock."""

    __slots__ = (
        "allocated",
        "cancelled",
        "confirmed",
        "dead",
        "external",
        "kind",
        "published",
        "stage",
        "visible",
    )

    def __init__(self, kind: Kind, stage: str, external: str) -> None:
        self.kind, self.stage, self.external = kind, stage, external
        self.published: float | None = None
        self.confirmed: float | None = None
        self.allocated: float | None = None
        self.cancelled: float | None = None
        self.visible: float | None = None
        self.dead: float | None = None


class State:
    """Everything the followers, the poller and the sampler write, under one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tracks: dict[str, Track] = {}
        self.unseen: set[str] = set()  # confirmed in Kafka, row not yet seen
        self.stock_received = 0
        self.rejected = 0
        self.samples: list[dict[str, Any]] = []
        self.cancel_queue: list[str] = []


def _rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` from /proc, in MiB (0 if gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _stat(pid: int) -> list[str]:
    # Fields of /proc/<pid>/stat after the command name (which may hold spaces).
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` from /proc (0 if gone)."""
    try:
        fields = _stat(pid)
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds of ``pid`` and its children, reaped (PostgreSQL's backends that
    ended) and alive (its open connections): a server's whole cost."""
    try:
        fields = _stat(pid)
        ticks = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    except (OSError, IndexError, ValueError):
        return 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            child = _stat(int(entry.name))
            if int(child[1]) == pid:
                ticks += int(child[11]) + int(child[12])
        except (OSError, IndexError, ValueError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def _cores(samples: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Cores each process used on average between the first and last of ``samples``."""
    if len(samples) < 2 or samples[-1]["t"] <= samples[0]["t"]:
        return {}
    first, last = samples[0]["cpu_s"], samples[-1]["cpu_s"]
    span = samples[-1]["t"] - samples[0]["t"]
    return {n: (last[n] - first[n]) / span for n in last if n in first}


def _per_cpu_second(count: int, cpu_seconds: float) -> dict[str, float]:
    # Wall-clock rates move with whatever else the shared machine runs; the CPU time
    # of the replaying thread (decode, fold, kafka-python's record parsing) does not
    # much, so it is what compares code before and after a change.
    return {
        "cpu_seconds": cpu_seconds,
        "per_cpu_s": count / cpu_seconds if cpu_seconds > 0 else 0.0,
    }


def commit() -> str:
    """The checked-out commit, ``+dirty`` when the tree has changes: what was measured."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+dirty" if dirty else head


def loadavg() -> str:
    """The 1/5/15-minute load averages, as ``uptime`` prints them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _dev_servers(settings: Settings) -> dict[str, int]:
    """The pids of the dev broker and database (``oms dev up``) that are running."""
    from oms_events.devservices.kafka_broker import KafkaBroker
    from oms_events.devservices.postgres_server import PostgresServer

    found = {"kafka": KafkaBroker(settings).pid(), "postgres": PostgresServer(settings).pid()}
    return {name: pid for name, pid in found.items() if pid is not None}


class Bench:
    """One ``oms bench`` run against the engine."""

    def __init__(self, options: Options, say: Say) -> None:
        self.o, self.say = options, say
        self.tag = uuid.uuid4().hex[:6]
        self.settings = Settings().replace(kafka={"topic_prefix": f"bench{self.tag}."})
        self.schema = f"bench_{self.tag}"
        self.codec: Codec = codec_from_settings(self.settings)
        self.writer = CommandWriter(self.settings, self.codec)
        self.workload = Workload(options.mix, self.tag)
        self.state = State()
        self.stop = threading.Event()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.servers = _dev_servers(self.settings)
        self.logs = Path(tempfile.mkdtemp(prefix=f"oms-bench-{self.tag}-"))
        self.producer: Producer | None = None
        self.t0 = 0.0
        self.stages: list[dict[str, Any]] = []
        self.started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")

    # --- processes -----------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            OMS_KAFKA_TOPIC_PREFIX=self.settings.kafka.topic_prefix,
            OMS_PROJECTIONS_SCHEMA_NAME=self.schema,
            OMS_LOG_FORMAT="json",
            OMS_LOG_LEVEL="warning",
        )
        return env

    def _spawn(self, name: str, argv: Sequence[str]) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            # From the checkout: `python -m bench.e2e.profiled_engine` finds bench/ there.
            [sys.executable, *argv],
            env=self._env(),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def start_processes(self) -> None:
        """The engine processes (two by default) and the projection process."""
        for name, only in self.o.layout.items():
            if self.o.profile:
                argv = ["-m", "bench.e2e.profiled_engine", str(self.logs / f"profile-{name}")]
                argv += only
            else:
                argv = ["-m", "oms_events.cli.run", "--no-apply-topics"]
                for p in only:
                    argv += ["--only", p]
            self._spawn(f"engine-{name}", argv)
        self._spawn("project", ["-m", "oms_events.cli.main", "project", "--schema", self.schema])

    def engine_pids(self) -> list[int]:
        """Pids of the engine processes."""
        return [p.pid for n, p in self.procs.items() if n.startswith("engine-")]

    def stop_processes(self, names: Sequence[str] | None = None) -> None:
        """SIGTERM, then wait (SIGKILL after 30 s)."""
        for name in names or list(self.procs):
            p = self.procs.get(name)
            if p is None or p.poll() is not None:
                continue
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def check_alive(self) -> None:
        """Raise when a subprocess died (its log says why)."""
        for name, p in self.procs.items():
            if p.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited with {p.returncode}:\n{tail}")

    # --- what comes back -----------------------------------------------------------

    def _on_order_event(self, record: Record) -> None:
        name = eventlog.header(record.headers, "event")
        if name not in ("OrderConfirmed", "OrderAllocated", "OrderCancelled", "OrderRejected"):
            return
        order_id = (record.key or b"").decode()
        now = time.monotonic()
        st = self.state
        with st.lock:
            t = st.tracks.get(order_id)
            if t is None:
                return
            # OrderAllocated confirms too (earlier versions wrote an OrderConfirmed first).
            if name in ("OrderConfirmed", "OrderAllocated") and t.confirmed is None:
                t.confirmed = now
                st.unseen.add(order_id)
                if t.kind is Kind.CANCEL:
                    st.cancel_queue.append(order_id)
            if name == "OrderAllocated" and t.allocated is None:
                t.allocated = now
            elif name == "OrderCancelled":
                t.cancelled = now
            elif name == "OrderRejected":
                st.rejected += 1

    def _on_dead_letter(self, record: Record) -> None:
        key = record.key.decode() if record.key else ""
        with self.state.lock:
            t = self.state.tracks.get(key)
            if t is not None and t.dead is None and t.kind in (Kind.UNDECODABLE, Kind.INVALID):
                t.dead = time.monotonic()

    def _on_stock_event(self, record: Record) -> None:
        if eventlog.header(record.headers, "event") == "StockReceived":
            with self.state.lock:
                self.state.stock_received += 1

    def _poll_rows(self) -> None:
        """Every ``poll_s``: which confirmed orders have their row visible."""
        conn = psycopg.connect(self.settings.postgres.dsn, autocommit=True)
        query = sql.SQL(
            "SELECT order_id::text FROM {}.order_tracking "
            "WHERE order_id = ANY(%s::uuid[]) AND confirmed_at IS NOT NULL"
        ).format(sql.Identifier(self.schema))
        try:
            while not self.stop.is_set():
                with self.state.lock:
                    ids = list(self.state.unseen)
                if ids:
                    try:
                        found = [r[0] for r in conn.execute(query, (ids,))]
                    except psycopg.errors.UndefinedTable:
                        found = []
                    now = time.monotonic()
                    with self.state.lock:
                        for order_id in found:
                            self.state.unseen.discard(order_id)
                            self.state.tracks[order_id].visible = now
                time.sleep(self.o.poll_s)
        finally:
            conn.close()

    def _sample(self) -> None:
        """Once a second: projection lag (records) per projection, engine RSS and CPU."""
        from oms_events.projection.registry import select
        from oms_events.projection.status import lags

        projections = select([])
        conn = psycopg.connect(self.settings.postgres.dsn, autocommit=True)
        try:
            while not self.stop.wait(1.0):
                try:
                    rows = lags(self.settings, conn, self.schema, projections)
                except Exception:  # the schema may not exist yet
                    rows = []
                by: dict[str, int] = defaultdict(int)
                for r in rows:
                    by[r.projection] += r.lag
                sample = {
                    "t": time.monotonic() - self.t0 if self.t0 else 0.0,
                    "lag": dict(by),
                    "rss_mb": {n: _rss_mb(p.pid) for n, p in self.procs.items()},
                    # The driver's own CPU (publisher, followers, poller, sampler) beside
                    # the processes it measures: it shares their two cores.
                    "cpu_s": {
                        **{n: _cpu_s(p.pid) for n, p in self.procs.items()},
                        "driver": _cpu_s(os.getpid()),
                        # The broker and the database share the two cores too; counted
                        # when they are the dev services this machine runs.
                        **{n: _tree_cpu_s(pid) for n, pid in self.servers.items()},
                    },
                    "load": loadavg(),
                }
                with self.state.lock:
                    self.state.samples.append(sample)
        finally:
            conn.close()

    # --- what goes out -------------------------------------------------------------

    def _send(self, r: Outgoing) -> None:
        assert self.producer is not None
        self.producer.send(r.topic, r.value, key=r.key, headers=r.headers)

    def _record(self, d: Delivery) -> tuple[str, Outgoing]:
        order_id = d.order.key
        r = self.writer.record(d.order)
        if d.kind is Kind.UNDECODABLE:
            r = Outgoing(r.topic, r.key, UNDECODABLE + d.external_id.encode(), r.headers)
        return order_id, r

    def _send_cancels(self) -> None:
        with self.state.lock:
            queue, self.state.cancel_queue = self.state.cancel_queue, []
            externals = [(oid, self.state.tracks[oid].external) for oid in queue]
        for order_id, external in externals:
            self._send(self.writer.record(cancel_order(uuid.UUID(order_id), external)))

    def receive_stock(self) -> None:
        """ReceiveStock for every sku at every location; wait for every StockReceived."""
        w = self.workload
        for sku in w.skus:
            for location in w.locations:
                receipt = ReceiveStock(
                    command_id=f"bench-stock-{sku}-{location}",
                    sku=sku,
                    location=location,
                    quantity=self.o.stock,
                    reason=f"bench {self.tag}",
                )
                self._send(self.writer.record(receipt))
        assert self.producer is not None
        self.producer.flush()
        want = len(w.skus) * len(w.locations)
        deadline = time.monotonic() + 180
        while self.state.stock_received < want:
            self.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"stock: {self.state.stock_received}/{want} received")
            time.sleep(0.2)

    def run_stage(self, name: str, rate: float, seconds: float) -> dict[str, Any]:
        """Publish at ``rate`` for ``seconds`` (open loop), drain, and measure."""
        offsets = make_schedule(rate, seconds)
        order_ids: list[str] = []

        def build() -> list[Outgoing]:
            built = []
            with self.state.lock:
                for d in self.workload.take(len(offsets)):
                    order_id, r = self._record(d)
                    self.state.tracks[order_id] = Track(d.kind, name, d.external_id)
                    order_ids.append(order_id)
                    built.append(r)
            return built

        # The orders' keys written in one statement, as intake's transactions do, not
        # one per order: the driver builds a stage's records before its clock starts.
        sealed = sealed_in_one_batch(self.codec, build)
        records = list(zip(order_ids, sealed, strict=True))
        assert self.producer is not None
        started = time.monotonic()
        sent, slip = 0, 0.0
        while sent < len(records):
            now = time.monotonic()
            n = due(offsets, sent, now - started)
            if n:
                slip = max(slip, now - started - offsets[sent])
                for order_id, r in records[sent : sent + n]:
                    self.state.tracks[order_id].published = time.monotonic()
                    self._send(r)
                sent += n
            self._send_cancels()
            if sent < len(records):
                time.sleep(max(0.0, min(0.005, started + offsets[sent] - time.monotonic())))
        published_s = time.monotonic() - started
        drained = self._drain([oid for oid, _ in records], started + published_s + self.o.drain_s)
        return self._measure(name, rate, seconds, started, published_s, slip, drained)

    def _done(self, order_ids: Sequence[str]) -> bool:
        for oid in order_ids:
            t = self.state.tracks[oid]
            if t.kind in (Kind.ORDER, Kind.CANCEL):
                if t.allocated is None or t.visible is None:
                    return False
                if t.kind is Kind.CANCEL and t.cancelled is None:
                    return False
            elif t.dead is None:
                return False
        return True

    def _drain(self, order_ids: Sequence[str], deadline: float) -> bool:
        while time.monotonic() < deadline:
            self._send_cancels()
            with self.state.lock:
                if self._done(order_ids):
                    return True
            self.check_alive()
            time.sleep(0.05)
        return False

    def _measure(
        self,
        name: str,
        rate: float,
        seconds: float,
        started: float,
        published_s: float,
        slip: float,
        drained: bool,
    ) -> dict[str, Any]:
        with self.state.lock:
            tracks = [t for t in self.state.tracks.values() if t.stage == name]
        valid = [t for t in tracks if t.kind in (Kind.ORDER, Kind.CANCEL) and t.published]
        confirmed = sorted((t for t in valid if t.confirmed), key=lambda t: t.confirmed or 0)
        allocated = [t for t in valid if t.allocated]
        visible = [t for t in valid if t.visible and t.confirmed]
        lat = [(t.confirmed or 0) - (t.published or 0) for t in confirmed]
        lat_alloc = [(t.allocated or 0) - (t.published or 0) for t in allocated]
        lat_vis = [(t.visible or 0) - (t.published or 0) for t in visible]
        proj_lag = [max(0.0, (t.visible or 0) - (t.confirmed or 0)) for t in visible]
        cancels = [t for t in valid if t.kind is Kind.CANCEL]
        invalid = [t for t in tracks if t.kind in (Kind.UNDECODABLE, Kind.INVALID)]
        span = published_s + 1 / rate

        def per_s(done: Sequence[float]) -> float:
            # Completion rate between the first and the last completion: a constant
            # latency shifts both ends alike, a backlog stretches the span.
            if len(done) < 2:
                return 0.0
            return (len(done) - 1) / max(1e-9, max(done) - min(done))

        confirmed_at = [t.confirmed or 0 for t in confirmed]
        allocated_at = [t.allocated or 0 for t in allocated]
        offered = len(valid) / span
        confirmed_per_s = per_s(confirmed_at)
        v = verdict(offered, confirmed_per_s, len(valid), len(confirmed), lat)
        with self.state.lock:
            samples = [s for s in self.state.samples if s["t"] >= started - self.t0]
            samples = [s for s in samples if s["t"] <= started - self.t0 + published_s]
        lags = [sum(s["lag"].values()) for s in samples]
        tracking_lag = [s["lag"].get("tracking", 0) for s in samples]
        to_confirmed, to_visible = summary_ms(lat), summary_ms(lat_vis)
        stage: dict[str, Any] = {
            "stage": name,
            "rate": rate,
            "seconds": seconds,
            "published": len(tracks),
            "valid": len(valid),
            "offered_per_s": offered,
            "publisher_slip_ms": slip * 1000,
            "confirmed": len(confirmed),
            "allocated": len(allocated),
            "visible": len(visible),
            "confirmed_per_s": confirmed_per_s,
            "allocated_per_s": per_s(allocated_at),
            "cancels": len(cancels),
            "cancelled": sum(1 for t in cancels if t.cancelled),
            "invalid": len(invalid),
            "dead_lettered": sum(1 for t in invalid if t.dead),
            "drained": drained,
            "sustained": v.sustained,
            "verdict": v.reason,
            "to_confirmed": to_confirmed,
            "to_allocated": summary_ms(lat_alloc),
            "to_visible": to_visible,
            "projection_lag": summary_ms(proj_lag),
            "projection_lag_records_p99": sorted(lags)[int(0.99 * (len(lags) - 1))] if lags else 0,
            "tracking_lag_records_max": max(tracking_lag, default=0),
            "cores": _cores(samples),
            "load": loadavg(),
        }
        self.say(
            f"  {name:>10} {rate:7.0f}/s offered {offered:6.0f}/s confirmed "
            f"{confirmed_per_s:6.0f}/s  p99 {to_confirmed['p99_ms']:6.0f} ms  "
            f"visible p99 {to_visible['p99_ms']:6.0f} ms  {v.reason}"
        )
        return stage

    # --- replay --------------------------------------------------------------------

    def replay_orders(self) -> dict[str, Any]:
        """Rebuild every order partition as the engine does on assignment (newest
        snapshots + the events after them); events counted from aggregate versions, of
        aggregates in memory and of those left in their snapshots."""
        from oms_events.engine.partition import rebuild

        c = consumer(
            self.settings,
            group_id=None,
            max_poll_records=5000,
            fetch_max_wait_ms=READ_TO_END_WAIT_MS,
        )
        # A codec of its own, as a restarted processor has: no order key in memory yet
        # (the driver's codec holds every key it made).
        codec = codec_from_settings(self.settings)
        events = aggregates = 0
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            for n in range(self.settings.kafka.partitions):
                state = rebuild(c, self.settings, "order", n, codec)
                aggregates += len(state.aggregates.keys() | state.snapshots.keys())
                events += sum(a.version for a in state.aggregates.values())
                events += sum(
                    s.version for i, s in state.snapshots.items() if i not in state.aggregates
                )
        finally:
            c.close()
        seconds = time.perf_counter() - started
        return {
            "events": events,
            "aggregates": aggregates,
            "seconds": seconds,
            "events_per_s": events / seconds if seconds else 0.0,
            **_per_cpu_second(events, time.thread_time() - cpu),
        }

    def replay_inventory(self) -> dict[str, Any]:
        """``oms replay inventory``'s function into a schema of its own."""
        from oms_events.projection.registry import select
        from oms_events.projection.replay import rebuild

        target = f"{self.schema}_replay"
        cpu = time.thread_time()
        try:
            r = rebuild(self.settings, select(["inventory"])[0], target)
            used = time.thread_time() - cpu
        finally:
            with psycopg.connect(self.settings.postgres.migrator_dsn, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(target))
                )
        return {
            "events": r.events,
            "records": r.records,
            "seconds": r.seconds,
            "events_per_s": r.events / r.seconds if r.seconds else 0.0,
            "records_per_s": r.records / r.seconds if r.seconds else 0.0,
            **_per_cpu_second(r.records, used),
        }

    # --- the whole run -------------------------------------------------------------

    def timeline(self) -> list[dict[str, Any]]:
        """Per second since the first stage: offered, confirmed, p99 confirmed/visible."""
        buckets: dict[int, dict[str, list[float]]] = defaultdict(
            lambda: {"pub": [], "conf": [], "vis": []}
        )
        with self.state.lock:
            for t in self.state.tracks.values():
                if t.published is None or t.stage == "warmup":
                    continue
                buckets[int(t.published - self.t0)]["pub"].append(0.0)
                if t.confirmed is not None:
                    buckets[int(t.confirmed - self.t0)]["conf"].append(t.confirmed - t.published)
                if t.visible is not None:
                    buckets[int(t.visible - self.t0)]["vis"].append(t.visible - t.published)
        out = []
        for second in range(min(buckets, default=0), max(buckets, default=-1) + 1):
            b = buckets.get(second, {"pub": [], "conf": [], "vis": []})
            out.append(
                {
                    "t": second,
                    "offered": len(b["pub"]),
                    "confirmed": len(b["conf"]),
                    "p99_confirmed_ms": summary_ms(b["conf"])["p99_ms"],
                    "p99_visible_ms": summary_ms(b["vis"])["p99_ms"],
                }
            )
        return out

    def warm_up(self) -> None:
        """Orders until the engine confirms and the projection shows them (joins,
        rebuilds and the stock view catch up here, outside any measured stage)."""
        deadline = time.monotonic() + 120
        while True:
            stage = self.run_stage("warmup", 20, 2)
            if stage["drained"] or time.monotonic() > deadline:
                break
        if not stage["drained"]:
            raise TimeoutError("the engine did not confirm warm-up orders within 120 s")

    def ramp(self) -> list[dict[str, Any]]:
        """From the best fixed rate sustained, up by ``ramp_factor`` until a step is not
        sustained; if no fixed rate was sustained, down from the lowest one."""
        fixed = [s for s in self.stages if s["stage"].startswith("fixed")]
        best = max((s["rate"] for s in fixed if s["sustained"]), default=None)
        up = best is not None
        rate = best if best is not None else min(self.o.rates)
        self._drain_all(60)  # a backlog of an overloaded fixed stage would skew step 1
        steps = []
        for k in range(self.o.ramp_steps):
            rate = rate * self.o.ramp_factor if up else rate / (self.o.ramp_factor**2)
            stage = self.run_stage(f"ramp{k + 1}", round(rate), self.o.ramp_seconds)
            steps.append(stage)
            if up and not stage["sustained"]:
                break
            if not up and stage["sustained"]:
                break
            if not stage["drained"]:
                self._drain_all(60)
        return steps

    def _drain_all(self, seconds: float) -> None:
        with self.state.lock:
            ids = list(self.state.tracks)
        self._drain(ids, time.monotonic() + seconds)

    def run(self) -> dict[str, Any]:
        """Everything, in order; the dict is what the JSON file holds."""
        s = self.settings
        self.say(f"topic prefix {s.kafka.topic_prefix}  schema {self.schema}  logs {self.logs}")
        apply_topics(s)
        # The engine and projections run as their own principals (as_service): this
        # run's prefix gets its rules, as `oms topics apply` writes them.
        apply_acls(s)
        self.producer = producer(s)
        # The engine's fetch wait: records come back as soon as they are committed (see
        # Follower); a 10 ms wait made these followers half of the broker's fetches.
        follow = [
            (topics.events("order"), self._on_order_event),
            (topics.DEADLETTER, self._on_dead_letter),
            (topics.events("inventory"), self._on_stock_event),
        ]
        followers = [
            Follower(s, topics.name(s, base), handler, self.stop) for base, handler in follow
        ]
        threads: list[threading.Thread] = [
            *followers,
            threading.Thread(target=self._poll_rows, daemon=True, name="poll-rows"),
            threading.Thread(target=self._sample, daemon=True, name="sampler"),
        ]
        for t in threads:
            t.start()
        result: dict[str, Any] = {
            "started_at": self.started_at,
            "commit": commit(),
            "kafka_client": s.kafka.client,
            "load_before": loadavg(),
        }
        driver_cpu = time.process_time()
        try:
            self.start_processes()
            self.say(
                f"starting the engine ({len(self.o.layout)} processes: "
                + " | ".join(",".join(only) for only in self.o.layout.values())
                + ") and the projections; receiving stock"
            )
            self.receive_stock()
            self.warm_up()
            self.t0 = time.monotonic()
            rss0 = {p: _rss_mb(p) for p in self.engine_pids()}
            for rate in self.o.rates:
                self.stages.append(self.run_stage(f"fixed{rate:g}", rate, self.o.seconds))
            if self.o.ramp:
                self.stages += self.ramp()
            self._drain_all(30)
            rss1 = {p: _rss_mb(p) for p in self.engine_pids()}
            with self.state.lock:
                orders = sum(1 for t in self.state.tracks.values() if t.confirmed)
                samples = list(self.state.samples)
            engine_peak = max(
                (
                    sum(v for k, v in smp["rss_mb"].items() if k.startswith("engine-"))
                    for smp in samples
                ),
                default=0.0,
            )
            growth = sum(rss1.values()) - sum(rss0.values())
            result["memory"] = {
                "engine_rss_start_mb": sum(rss0.values()),
                "engine_rss_end_mb": sum(rss1.values()),
                "engine_rss_peak_mb": engine_peak,
                "orders_confirmed": orders,
                "growth_mb_per_100k_orders": growth / orders * 100_000 if orders else 0.0,
                "per_process_end_mb": {
                    n: _rss_mb(p.pid) for n, p in self.procs.items() if p.poll() is None
                },
            }
            result["cpu_s"] = samples[-1]["cpu_s"] if samples else {}
            self.stop_processes()
            if self.o.replay:
                self.say("replaying the order aggregates and the inventory projection")
                result["replay_order_aggregates"] = self.replay_orders()
                result["replay_inventory_projection"] = self.replay_inventory()
            result["stages"] = self.stages
            result["timeline"] = self.timeline()
            result["samples"] = samples
            result["load_after"] = loadavg()
            result["driver_cpu_s"] = time.process_time() - driver_cpu
        finally:
            self.stop.set()
            self.stop_processes()
            for t in threads:
                t.join(5)
            if self.producer is not None:
                self.producer.close()
            if self.o.profile:
                result["profiles"] = self._collect_profiles()
            if not self.o.keep:
                self.cleanup()
        return result

    def _collect_profiles(self) -> dict[str, str]:
        out = {}
        self.o.results.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        for name in ("order", "stock"):
            text = self.logs / f"profile-{name}.txt"
            if text.exists():
                dest = self.o.results / f"{stamp}-profile-{name}.txt"
                shutil.copy(text, dest)
                out[name] = str(dest)
                html = self.logs / f"profile-{name}.html"
                if html.exists():
                    out[f"{name}_html"] = str(html)
        return out

    def cleanup(self) -> None:
        """Drop the schema and delete the topics of this run."""
        with psycopg.connect(self.settings.postgres.migrator_dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema))
            )
        drop_topics(self.settings)
