"""A three-node Kafka cluster of its own, engine processes on it, and a simulation of
contended orders with a broker (and maybe an engine) SIGKILLed mid-run (issue 20).

Used by ``test_cluster_faults.py``, and run as a script for the bigger runs and the
throughput on three brokers against one (bench/README.md), from the checkout:

    python -m tests.fault.cluster_run --brokers 1,3 --orders 3000 --rate 400
    python -m tests.fault.cluster_run --brokers 3 --orders 3000 --rate 60 --fault leader

Each run starts its own cluster (a temporary folder on free loopback ports, sharing only
the dev broker's resolved jars, never its data: ``oms dev up`` must have run once), two
``oms run --only`` processes per role (orders: inventory + order; parcels: shipment +
warehouse), and ``oms simulate``'s simulation of contended orders (4 skus at 3 locations,
stock for about half). With ``--fault`` a broker is SIGKILLed a third of the way in and
restarted 10 s later; every run ends with the fault test's checks. On one machine the
brokers share its cores, so three against one shows what replication costs, not what
scale-out gains.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AdminClient

from oms_events import audit, topics
from oms_events.devservices.kafka_broker import KafkaBroker, KafkaCluster
from oms_events.engine.partition import Partition
from oms_events.engine.simulate import Plan, Simulation, Summary
from oms_events.kafka.admin import apply_topics
from oms_events.kafka.connection import consumer
from oms_events.kafka.errors import KafkaError
from oms_events.kafka.port import TopicPartition
from oms_events.kafka.security import as_admin, client_security
from oms_events.settings import Settings
from tests.integration.conftest import drop_topics
from tests.integration.engine.harness import CODEC, EVENTS, engine_process, log_stable, wait_for

# Two processes per role, split as `oms run --only` deploys them.
ROLES = {
    "orders": ("inventory", "order"),
    "parcels": ("shipment", "warehouse"),
}


def _free_ports(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports (node n: base + 2(n-1))."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1])
        if base + count > 65_000:
            continue
        try:
            with contextlib.ExitStack() as stack:
                for port in range(base, base + count):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no run of free loopback ports found")


def _groups_answer(settings: Settings) -> bool:
    """True once a group coordinator answers (its topic is made on this first use)."""
    c = consumer(settings, group_id="warmup")
    try:
        c.committed(TopicPartition(topics.name(settings, topics.events("order")), 0), 5000)
        return True
    except KafkaError:
        return False
    finally:
        c.close()


class Cluster:
    """``nodes`` Kafka nodes of a test's own; :meth:`close` stops them and removes the
    folder."""

    def __init__(self, shared: Settings, nodes: int, heap: str = "384m") -> None:
        self.home = Path(tempfile.mkdtemp(prefix="oms-cluster-"))
        self.unsettled = "not asked yet"  # why settled() last answered False
        base = _free_ports(2 * nodes)
        dev = {
            "data_dir": self.home,
            "kafka_port": base,
            "kafka_controller_port": base + 1,
            "kafka_heap": heap,
        }
        # As the admin of this cluster (its own credentials file), not of the shared one.
        settings = as_admin(shared.replace(dev=dev))
        self.kafka = KafkaCluster(settings, nodes)
        self.settings = settings.replace(kafka={"bootstrap_servers": self.kafka.bootstrap_servers})
        # The jars, not the data: resolved once by the shared dev broker.
        self.kafka.root.mkdir(parents=True)
        self.kafka.brokers[0].lib.symlink_to(KafkaBroker(shared).lib, target_is_directory=True)
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        self.kafka.start()
        # Serving is not settled: wait until every node is registered and the groups'
        # topic (made on first use) has its leaders before anyone uses it. On a fresh
        # cluster a group-less follower's assignment otherwise waited on a loading
        # coordinator and started fetching after the records it was set to read.
        warm = self.settings.replace(kafka={"topic_prefix": "warmup."})
        apply_topics(warm)
        assert wait_for(lambda: _groups_answer(warm), 120, 1), "no group coordinator"
        assert wait_for(self.settled, 120, 0.5), f"the cluster did not settle: {self.unsettled}"
        drop_topics(warm)

    def knows(self, names: list[str]) -> bool:
        """Every node's metadata holds these topics (a node's lags the controller's: one
        asked right after a creation may not know the new topics yet)."""
        for broker in self.kafka.brokers:
            meta = AdminClient(
                {"bootstrap.servers": broker.address, **client_security(self.settings).librdkafka()}
            ).list_topics(timeout=10)
            if meta.orig_broker_id != broker.node or not set(names) <= set(meta.topics):
                return False
        return True

    def settled(self) -> bool:
        """Every node registered, the groups' topic made, every partition led with all
        its replicas in sync, as each node answers (a node's metadata lags the
        controller's: a client asking it about a new topic found no leader)."""
        for broker in self.kafka.brokers:
            meta = AdminClient(
                {"bootstrap.servers": broker.address, **client_security(self.settings).librdkafka()}
            ).list_topics(timeout=10)
            if meta.orig_broker_id != broker.node:
                self.unsettled = f"node {broker.node} did not answer"
                return False
            partitions = [(t.topic, p) for t in meta.topics.values() for p in t.partitions.values()]
            if "__consumer_offsets" not in meta.topics or len(meta.brokers) != self.kafka.count:
                self.unsettled = (
                    f"node {broker.node} knows {len(meta.brokers)} nodes, "
                    f"groups' topic {'made' if '__consumer_offsets' in meta.topics else 'missing'}"
                )
                return False
            lagging = [
                f"{topic}[{p.id}] leader {p.leader} isr {list(p.isrs)} of {list(p.replicas)}"
                for topic, p in partitions
                if p.leader < 0 or len(p.isrs) != len(p.replicas)
            ]
            if lagging:
                self.unsettled = f"node {broker.node}: {len(lagging)} partitions, e.g. " + (
                    "; ".join(lagging[:3])
                )
                return False
        self.unsettled = ""
        return True

    def close(self) -> None:
        """Stop every node and delete the cluster's folder."""
        try:
            self.kafka.stop()
        finally:
            shutil.rmtree(self.home, ignore_errors=True)

    def broker(self, node: int) -> KafkaBroker:
        """Node ``node`` (from 1)."""
        return self.kafka.brokers[node - 1]

    def kill(self, node: int) -> None:
        """SIGKILL node ``node``: no controlled shutdown, leaders and a voter lost at once."""
        pid = self.broker(node).pid()
        assert pid is not None, f"node {node} is not running"
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: self.broker(node).pid() is None, 10, 0.05)

    def leaders(self) -> Counter[int]:
        """Partitions led by each node, over every topic (internal ones included: the
        transaction and group coordinators live on their leaders)."""
        meta = AdminClient(
            {
                "bootstrap.servers": self.kafka.bootstrap_servers,
                **client_security(self.settings).librdkafka(),
            }
        ).list_topics(timeout=10)
        return Counter(p.leader for t in meta.topics.values() for p in t.partitions.values())


@dataclass(frozen=True)
class Fault:
    """What to kill, when (the share of orders decided), and for how long."""

    broker: str = "none"  # "none" | "any" (node 2) | "leader" (the one leading the most)
    engine_too: bool = False  # SIGKILL one orders engine at the same moment
    at: float = 1 / 3
    down_s: float = 10.0


@dataclass
class Outcome:
    """What one run did and saw."""

    settings: Settings
    sim: Simulation
    summary: Summary
    killed_node: int | None = None
    killed_at: float | None = None
    leaders: Counter[int] = field(default_factory=Counter)  # partitions led, before the kill
    restart_error: str | None = None  # why the killed node did not come back
    progress: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, decided)
    alive_at_end: dict[str, list[bool]] = field(default_factory=dict)
    exits: list[int | None] = field(default_factory=list)

    @property
    def recovery_s(self) -> float:
        """From the kill to the end of the longest stretch without a decision that began
        at or after it: how long the cluster and engines took to decide again (inf: they
        never did)."""
        if self.killed_at is None:
            return 0.0
        samples = [(t, d) for t, d in self.progress if t >= self.killed_at]
        if not samples or samples[-1][1] < self.summary.published:
            return float("inf")
        longest, resumed = 0.0, self.killed_at
        last_t, last_d = self.killed_at, samples[0][1]
        for t, d in samples:
            if d > last_d:
                if t - last_t > longest:
                    longest, resumed = t - last_t, t
                last_t, last_d = t, d
        return resumed - self.killed_at

    def report(self) -> str:
        """One line: orders, rate, p50/p99 and recovery."""
        s, lat = self.summary, self.summary.latency
        return (
            f"{s.decided}/{s.published} decided ({s.confirmed} allocated, {s.rejected} "
            f"rejected) in {s.seconds:.1f} s = {s.per_second:.1f}/s; latency p50 "
            f"{lat.percentile(50) * 1000:.0f} ms p99 {lat.percentile(99) * 1000:.0f} ms"
            + (
                f"; node {self.killed_node} SIGKILLed (it led {self.leaders[self.killed_node]} "
                f"of {sum(self.leaders.values())} partitions), decisions resumed "
                f"{self.recovery_s:.1f} s later"
                if self.killed_node is not None
                else ""
            )
        )


class Engines:
    """Two ``oms run --only`` processes per role on the cluster."""

    def __init__(self, settings: Settings, per_role: int = 2) -> None:
        self.procs = {
            role: [engine_process(settings, *names) for _ in range(per_role)]
            for role, names in ROLES.items()
        }

    def alive(self) -> dict[str, list[bool]]:
        """Which processes still run, per role."""
        return {r: [p.poll() is None for p in ps] for r, ps in self.procs.items()}

    def stop(self) -> list[int | None]:
        """SIGTERM every live process; the exit codes (None: did not stop in 60 s)."""
        every = [p for ps in self.procs.values() for p in ps]
        for p in every:
            if p.poll() is None:
                p.terminate()
        codes: list[int | None] = []
        for p in every:
            try:
                codes.append(p.wait(60))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append(None)
        return codes

    def log_tail(self, chars: int = 2000) -> str:
        """The end of every engine's log, for a failing assertion."""
        return "\n".join(
            Path(p.log_path).read_text()[-chars:]  # type: ignore[attr-defined]
            for ps in self.procs.values()
            for p in ps
        )


def contended(orders: int, rate: float) -> Plan:
    """``orders`` orders of 4 skus at 3 locations with stock for about half of them."""
    skus, locations = 4, 3
    return Plan(
        orders=orders,
        skus=skus,
        locations=locations,
        rate=rate,
        stock=max(1, orders // (2 * skus * locations)),
        life="decide",
    )


def run(
    cluster: Cluster,
    prefix: str,
    plan: Plan,
    fault: Fault,
    timeout: float = 900,
    partitions: int = 6,
) -> tuple[Outcome, Engines]:
    """Apply the topics under ``prefix``, start the engines, simulate ``plan`` and strike
    as ``fault`` says; the engines are left running (stop them with the outcome's
    checks done)."""
    settings = cluster.settings.replace(kafka={"topic_prefix": prefix, "partitions": partitions})
    apply_topics(settings)
    # Created is not yet led everywhere: a client asking at once finds no leader.
    assert wait_for(cluster.settled, 60, 0.2), f"the new topics got no leaders: {cluster.unsettled}"
    engines = Engines(settings)
    sim = Simulation(settings, CODEC, plan)
    outcome = Outcome(settings, sim, sim.summary)
    lock = threading.Lock()

    def strike() -> None:
        outcome.leaders = cluster.leaders()
        node = outcome.leaders.most_common(1)[0][0] if fault.broker == "leader" else 2
        if fault.engine_too:
            engines.procs["orders"][0].kill()
        cluster.kill(node)
        outcome.killed_node, outcome.killed_at = node, time.monotonic()
        threading.Timer(fault.down_s, restart, (node,)).start()

    def restart(node: int) -> None:
        try:
            cluster.broker(node).start(timeout=600)
        except Exception as exc:  # reported by the run's checks
            outcome.restart_error = f"{type(exc).__name__}: {exc}"

    def on_progress(stage: str, done: int, total: int) -> None:
        if stage != "orders":
            return
        with lock:
            outcome.progress.append((time.monotonic(), done))
            due = fault.broker != "none" and outcome.killed_at is None
            if due and done >= fault.at * total and done < total:
                strike()

    try:
        sim.run(on_progress, timeout)
    except BaseException:
        engines.stop()
        raise
    outcome.alive_at_end = engines.alive()
    if outcome.killed_node is not None:
        node = cluster.broker(outcome.killed_node)
        # The restart runs in a timer: wait for it before the checks read the log.
        wait_for(lambda: node.status().running or outcome.restart_error is not None, 620, 0.5)
    return outcome, engines


def check(outcome: Outcome) -> None:
    """Every order decided exactly once, no stock row oversold, stock conserved, one
    writer per aggregate version; from the committed events alone."""
    s, sim = outcome.settings, outcome.sim
    assert outcome.restart_error is None, outcome.restart_error
    ids = set(sim.published_at)
    assert outcome.summary.decided == len(ids) == sim.plan.orders, outcome.report()
    # A killed engine's open transaction holds its partitions back until the broker
    # aborts it (transaction timeout + abort sweep): audit a stable log.
    assert wait_for(lambda: log_stable(s, "order", "inventory"), 120, 0.5), (
        "a transaction stayed open past the transaction timeout"
    )
    orders = audit.read_events(s, CODEC, "order")
    placed = Counter(str(e.originator_id) for e in orders if e.name == "OrderPlaced")
    assert set(placed) == ids and max(placed.values()) == 1, "an order lost or placed twice"
    decisions = Counter(
        str(e.originator_id) for e in orders if e.name in ("OrderAllocated", "OrderRejected")
    )
    assert set(decisions) == ids, "an order was never decided"
    assert max(decisions.values()) == 1, "an order was decided twice"
    inventory = audit.read_events(s, CODEC, "inventory")
    for kind, events in (("order", orders), ("inventory", inventory)):
        versions = Counter((e.originator_id, e.originator_version) for e in events)
        assert max(versions.values()) == 1, f"two writers appended the same {kind} version"

    books = {
        k: b for k, b in audit.fold_stock(inventory).items() if k[0].startswith(f"SIM-{sim.run_id}")
    }
    assert len(books) == sim.plan.skus * sim.plan.locations
    allocated: Counter[tuple[str, str]] = Counter()
    for e in orders:
        if e.name == "OrderAllocated":
            for a in e.payload["allocations"]:
                allocated[(a["sku"], a["location"])] += a["quantity"]
    for item, book in books.items():
        assert book.went_negative == 0, f"{item}: available below zero (oversold)"
        assert book.received == sim.plan.units_per_item(), f"{item}: receipts {book.received}"
        # Conserved: what arrived is on hand or shipped; what is held is what orders got.
        assert book.on_hand == book.received - book.shipped, f"{item}: {book}"
        assert book.reserved + book.shipped == allocated[item], (
            f"{item}: reserved {book.reserved} + shipped {book.shipped}, "
            f"orders allocated {allocated[item]}"
        )
        assert allocated[item] <= book.received, f"{item}: oversold"
    # Contended: stock ran out, so some orders were refused, and none was lost to it.
    assert outcome.summary.rejected > 0 and outcome.summary.confirmed > 0

    # A replay through the domain rebuilds what the independent fold says.
    state = Partition(0)
    for e in inventory:
        state.apply(EVENTS.to_domain_event(e), None)
    replayed = {
        (i.sku, i.location): (i.on_hand, i.reserved)  # type: ignore[attr-defined]
        for i in state.aggregates.values()
        if (i.sku, i.location) in books  # type: ignore[attr-defined]
    }
    assert replayed == {k: (b.on_hand, b.reserved) for k, b in books.items()}


@contextlib.contextmanager
def cluster_of(shared: Settings, nodes: int) -> Iterator[Cluster]:
    """A cluster of ``nodes`` for the block, stopped and removed after it."""
    cluster = Cluster(shared, nodes)
    try:
        yield cluster
    finally:
        cluster.close()


FAULTS = {
    "none": Fault(),
    "any": Fault(broker="any"),
    "leader": Fault(broker="leader"),
    "engine": Fault(broker="any", engine_too=True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brokers", default="1,3", help="cluster sizes to run, e.g. 1,3")
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=400.0, help="orders published per second")
    parser.add_argument("--fault", choices=sorted(FAULTS), default="none")
    args = parser.parse_args()
    os.environ.setdefault("OMS_LOG_LEVEL", "warning")
    shared = Settings()
    # It makes and drops a schema per run: the migrator's work, as in the tests.
    shared = shared.replace(postgres={"dsn": shared.postgres.migrator_dsn})
    for nodes in (int(n) for n in args.brokers.split(",")):
        with cluster_of(shared, nodes) as cluster:
            plan = contended(args.orders, args.rate)
            outcome, engines = run(cluster, f"b{uuid.uuid4().hex[:8]}.", plan, FAULTS[args.fault])
            try:
                check(outcome)
                verdict = "checks passed"
            except AssertionError as exc:
                verdict = f"CHECK FAILED: {exc}"
            finally:
                exits = engines.stop()
            print(f"{nodes} broker(s), fault {args.fault}: {outcome.report()}")
            print(f"  engines alive at the end {outcome.alive_at_end}, exits {exits}; {verdict}")


if __name__ == "__main__":
    main()
