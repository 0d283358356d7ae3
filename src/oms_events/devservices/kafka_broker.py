"""The dev Apache Kafka in KRaft mode, from Maven Central, on the local JDK: one node,
or a cluster of a few (``oms dev up --brokers 3``) on loopback.

Maven resolves the broker's jars once into ``~/.m2``; they are copied into
``<data_dir>/kafka/lib-<version>`` and ``java kafka.Kafka`` runs them.

Every node is both broker and controller (``process.roles=broker,controller``), with a
static quorum of all nodes as voters. Separate controllers would be three more JVMs on
a developer's machine for nothing the tests can observe: a combined node killed takes a
voter and a broker down together, which is the harder case for the cluster (a new
metadata leader *and* new partition leaders), and a quorum of three still survives one
loss. Node ``n`` listens on ``kafka_port + 2(n-1)`` for clients and
``kafka_controller_port + 2(n-1)`` for the quorum, so node 1 keeps the one-node ports;
its files stay in ``<data_dir>/kafka`` and node ``n``'s are in ``<data_dir>/kafka/node-n``.

Internal topics get replication factor min(3, nodes) and min ISR 2 from three nodes
(1 below): transactions work on one node and survive the loss of one of three.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from oms_events.devservices.process import (
    ServiceError,
    port_open,
    read_pid,
    spawn,
    stop_pid,
    tail,
)
from oms_events.kafka.security import (
    ADMIN,
    MECHANISM,
    ClientSecurity,
    credentials_path,
    ensure_credentials,
)
from oms_events.settings import Settings
from oms_events.topics import min_insync_replicas

READY_LINE = "Kafka Server started"


@dataclass(frozen=True)
class BrokerStatus:
    """What ``oms dev status`` shows for one Kafka node."""

    node: int
    running: bool
    pid: int | None
    address: str
    version: str
    log: Path


@dataclass(frozen=True)
class ClusterStatus:
    """What ``oms dev status`` shows for Kafka: every node of the dev cluster."""

    nodes: list[BrokerStatus]

    @property
    def running(self) -> bool:
        """True when every node runs."""
        return all(n.running for n in self.nodes)

    @property
    def address(self) -> str:
        """The bootstrap servers that reach the cluster (OMS_KAFKA_BOOTSTRAP_SERVERS)."""
        return ",".join(n.address for n in self.nodes)

    @property
    def version(self) -> str:
        """The Kafka version the nodes run."""
        return self.nodes[0].version


def new_cluster_id() -> str:
    """A cluster id as Kafka's ``Uuid.randomUuid`` makes them: URL-safe base64 without
    padding, never starting with '-' (which the storage tool's argument parser takes
    for an option: one fresh data dir in 64 failed to format, as a CI run did)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaBroker:
    """One dev node's files and process (node 1 under ``<data_dir>/kafka``, node n under
    ``<data_dir>/kafka/node-n``) in a cluster of ``nodes`` (see the module doc)."""

    def __init__(self, settings: Settings, node: int = 1, nodes: int = 1) -> None:
        self.settings = settings
        self.node, self.nodes = node, nodes
        root = settings.dev.data_dir / "kafka"
        self.home = root if node == 1 else root / f"node-{node}"
        self.version = settings.dev.kafka_version
        self.lib = root / f"lib-{self.version}"
        self.data = self.home / "data"
        self.log = self.home / "logs" / "server.log"
        self.console_log = self.home / "logs" / "console.log"
        self.pid_file = self.home / "kafka.pid"
        self.port = settings.dev.kafka_port + 2 * (node - 1)
        self.controller_port = settings.dev.kafka_controller_port + 2 * (node - 1)
        self.address = f"127.0.0.1:{self.port}"

    # -- jars ---------------------------------------------------------------
    def ensure_jars(self) -> None:
        """Resolve the broker's jars with Maven unless this version is already here."""
        marker = self.lib / ".complete"
        if marker.exists():
            return
        mvn = shutil.which("mvn")
        java = shutil.which("java")
        if not mvn or not java:
            raise ServiceError(
                "Kafka needs a JDK 17 and Maven: install them with "
                "`apt-get install -y openjdk-17-jre-headless maven`"
            )
        self.lib.parent.mkdir(parents=True, exist_ok=True)
        pom = self.lib.parent / "pom.xml"
        pom.write_text(
            resources.files("oms_events.devservices").joinpath("kafka-broker-pom.xml").read_text()
        )
        staging = self.lib.parent / f"lib-{self.version}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        result = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(pom),
                f"-Dkafka.version={self.version}",
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            out = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
            raise ServiceError(
                f"Maven could not resolve org.apache.kafka:kafka_2.13:{self.version}:\n{out}"
            )
        shutil.rmtree(self.lib, ignore_errors=True)
        staging.rename(self.lib)
        marker.write_text(self.version)

    # -- configuration ------------------------------------------------------
    def write_config(self, passwords: Mapping[str, str] | None) -> Path:
        """Write server.properties (0600: it holds the admin's password) and the Log4j 2
        configuration; return the former. Without ``passwords`` the node is the PLAINTEXT
        one of data dirs made before SASL, started once to upgrade them (KafkaCluster)."""
        s = self.settings
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(exist_ok=True)
        factor = min(3, self.nodes)
        isr = min_insync_replicas(factor)
        voters = ",".join(
            f"{n}@127.0.0.1:{s.dev.kafka_controller_port + 2 * (n - 1)}"
            for n in range(1, self.nodes + 1)
        )
        props = {
            "process.roles": "broker,controller",
            "node.id": str(self.node),
            "controller.quorum.voters": voters,
            **(
                _secured(self.port, self.controller_port, passwords)
                if passwords
                else {
                    "listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names": "CONTROLLER",
                    "inter.broker.listener.name": "PLAINTEXT",
                    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                }
            ),
            "log.dirs": str(self.data),
            "num.partitions": str(s.kafka.partitions),
            # Internal topics cannot have more replicas than brokers (module doc).
            "offsets.topic.replication.factor": str(factor),
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": str(factor),
            "transaction.state.log.min.isr": str(isr),
            "transaction.state.log.num.partitions": "10",
            "share.coordinator.state.topic.replication.factor": str(factor),
            "share.coordinator.state.topic.min.isr": str(isr),
            "default.replication.factor": str(factor),
            "min.insync.replicas": str(isr),
            # Tests and the engine create topics through the registry, never by accident.
            "auto.create.topics.enable": "false",
            "group.initial.rebalance.delay.ms": "0",
            "transaction.abort.timed.out.transaction.cleanup.interval.ms": "10000",
            "log.retention.hours": "-1",
            # Deleted topics free their files within seconds, not the default minute:
            # test suites create and drop thousands of partitions against the file limit.
            "file.delete.delay.ms": "1000",
        }
        server = self.home / "server.properties"
        server.unlink(missing_ok=True)  # created anew at 0600, not chmod-ed after writing
        fd = os.open(server, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.home / "log4j2.properties").write_text(
            "status = warn\n"
            "appender.file.type = RollingFile\n"
            "appender.file.name = FILE\n"
            f"appender.file.fileName = {self.log}\n"
            f"appender.file.filePattern = {self.log}.%i\n"
            "appender.file.layout.type = PatternLayout\n"
            "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
            "appender.file.policies.type = Policies\n"
            "appender.file.policies.size.type = SizeBasedTriggeringPolicy\n"
            "appender.file.policies.size.size = 50MB\n"
            "appender.file.strategy.type = DefaultRolloverStrategy\n"
            "appender.file.strategy.max = 3\n"
            "rootLogger.level = INFO\n"
            "rootLogger.appenderRef.file.ref = FILE\n"
            "logger.kafka.name = kafka\nlogger.kafka.level = INFO\n"
            "logger.state.name = state.change.logger\nlogger.state.level = WARN\n"
        )
        return server

    def _java(self, main: str, *args: str) -> list[str]:
        heap = self.settings.dev.kafka_heap
        return [
            "java",
            f"-Xms{min(256, _megabytes(heap))}m",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            "-cp",
            f"{self.lib}/*",
            main,
            *args,
        ]

    def format_storage(self, server: Path, cluster_id: str, passwords: Mapping[str, str]) -> None:
        """Format the KRaft metadata log once (with the cluster's id and every principal's
        SCRAM credential, so clients and the other nodes can authenticate from the first
        start); later starts reuse it."""
        if (self.data / "meta.properties").exists():
            return
        scram = [
            arg
            for user, password in passwords.items()
            for arg in ("--add-scram", f"{MECHANISM}=[name={user},password={password}]")
        ]
        result = subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(server),
                "--ignore-formatted",
                *scram,
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ServiceError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")

    # -- lifecycle ----------------------------------------------------------
    def pid(self) -> int | None:
        """The broker's pid when it runs."""
        return read_pid(self.pid_file, "kafka.Kafka")

    def start(self, timeout: float = 90.0) -> bool:
        """Start this node unless it runs; wait until it serves. True if it was started.

        A node of several serves only once a quorum of its cluster runs: start them
        together with :meth:`KafkaCluster.start`; this restarts one of a running cluster.
        """
        mark = self.launch(KafkaCluster(self.settings, self.nodes))
        self.wait_started(mark, timeout)
        return mark is not None

    def launch(self, cluster: KafkaCluster, secure: bool = True) -> int | None:
        """Spawn the node unless it runs, without waiting; the log offset to wait from
        (:meth:`wait_started`), or None if it was running already. ``secure=False``:
        the PLAINTEXT node of an old data dir, for :meth:`KafkaCluster.start`'s upgrade.

        A live pid is a running node even when its port does not answer at once: a busy
        broker's full accept queue drops a connection attempt, and its retry comes after
        port_open's half second. Spawning a second JVM on the same data dir then failed
        every test of one CI worker (it exits on the directory's lock)."""
        if self.pid() is not None:
            return None
        for port, variable in (
            (self.port, "OMS_DEV_KAFKA_PORT"),
            (self.controller_port, "OMS_DEV_KAFKA_CONTROLLER_PORT"),
        ):
            if port_open(port):
                raise ServiceError(
                    f"port {port} is taken by another program; stop it or set {variable}"
                    + (
                        " (and OMS_KAFKA_BOOTSTRAP_SERVERS)"
                        if variable == "OMS_DEV_KAFKA_PORT"
                        else ""
                    )
                )
        self.ensure_jars()
        passwords = cluster.passwords()
        server = self.write_config(passwords if secure else None)
        self.format_storage(server, cluster.cluster_id(), passwords)
        mark = self.log.stat().st_size if self.log.exists() else 0
        spawn(self._java("kafka.Kafka", str(server)), self.console_log, self.pid_file)
        return mark

    def wait_started(self, mark: int | None, timeout: float = 90.0) -> None:
        """Wait until the node launched at log offset ``mark`` serves clients (``None``:
        it ran already; wait until its port answers)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if read_pid(self.pid_file, "kafka.Kafka") is None:
                since = self._errors_since(mark) if mark is not None else tail(self.log)
                raise ServiceError(
                    f"Kafka node {self.node} exited during start; see {self.log}\n"
                    f"{since}\n{tail(self.console_log, 5)}\n"
                    "Fix the cause above, or wipe its data with `oms dev down --wipe`."
                )
            if port_open(self.port) and (mark is None or self._started_since(mark)):
                return
            time.sleep(0.3)
        raise ServiceError(
            f"Kafka did not serve on {self.address} within {timeout:.0f}s. Last lines of "
            f"{self.log}:\n{tail(self.log)}"
        )

    def _errors_since(self, offset: int, limit: int = 8) -> str:
        # The first ERROR lines name the cause; the stack traces after them rarely help.
        try:
            with self.log.open("rb") as f:
                f.seek(offset)
                lines = f.read().decode(errors="replace").splitlines()
        except OSError:
            return tail(self.log)
        errors = [line for line in lines if "] ERROR " in line or "] FATAL " in line]
        return "\n".join(errors[:limit]) if errors else "\n".join(lines[-limit:])

    def _started_since(self, offset: int) -> bool:
        try:
            with self.log.open("rb") as f:
                f.seek(offset)
                return READY_LINE.encode() in f.read()
        except OSError:
            return False

    def stop(self) -> bool:
        """Stop the node (a controlled shutdown). True if it was running."""
        pid = self.pid()
        if pid is None:
            return False
        stop_pid(pid, timeout=60)
        self.pid_file.unlink(missing_ok=True)
        return True

    def wipe(self) -> None:
        """Delete the node's data and logs; the resolved jars stay."""
        shutil.rmtree(self.data, ignore_errors=True)
        shutil.rmtree(self.home / "logs", ignore_errors=True)
        if self.node > 1:
            shutil.rmtree(self.home, ignore_errors=True)

    def status(self) -> BrokerStatus:
        """Whether it runs, where, and which version."""
        pid = self.pid()
        return BrokerStatus(
            node=self.node,
            running=pid is not None and port_open(self.port),
            pid=pid,
            address=self.address,
            version=self.version,
            log=self.log,
        )


def _secured(port: int, controller_port: int, passwords: Mapping[str, str]) -> dict[str, str]:
    """The listeners of a secured node: SASL/SCRAM-SHA-512 for clients and between
    brokers (as ``admin``), SASL/PLAIN as ``admin`` on the controller listener (KRaft
    controllers cannot read SCRAM credentials: they live in the metadata the quorum
    serves), and the StandardAuthorizer denying whatever no ACL allows.

    No TLS: every listener is on loopback, where TLS would protect against nobody who
    cannot already read the data dir, at the price of a CA, keystores and a
    handshake per connection.
    """
    admin = passwords[ADMIN]
    scram = "org.apache.kafka.common.security.scram.ScramLoginModule"
    plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
    return {
        "listeners": f"CLIENT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"CLIENT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "CLIENT",
        "listener.security.protocol.map": "CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": MECHANISM,
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.client.sasl.enabled.mechanisms": MECHANISM,
        f"listener.name.client.{MECHANISM.lower()}.sasl.jaas.config": (
            f'{scram} required username="{ADMIN}" password="{admin}";'
        ),
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": (
            f'{plain} required username="{ADMIN}" password="{admin}" user_{ADMIN}="{admin}";'
        ),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{ADMIN}",
    }


def _megabytes(heap: str) -> int:
    """A JVM heap size ("384m", "1g") in MiB."""
    units = {"k": 1 / 1024, "m": 1, "g": 1024}
    return int(float(heap[:-1]) * units[heap[-1].lower()])


class KafkaCluster:
    """The dev Kafka: ``nodes`` combined broker-controllers sharing one cluster id.

    The node count and cluster id are recorded in ``<data_dir>/kafka/cluster.properties``
    when the nodes are formatted: a quorum's voters are fixed then, so the same data dir
    cannot later run another count (``oms dev down --wipe`` first).
    """

    def __init__(self, settings: Settings, nodes: int | None = None) -> None:
        self.settings = settings
        self.root = settings.dev.data_dir / "kafka"
        self.record = self.root / "cluster.properties"
        formatted = self.formatted_nodes()
        self.count = nodes or formatted or settings.dev.kafka_brokers
        self.brokers = [KafkaBroker(settings, n, self.count) for n in range(1, self.count + 1)]

    def formatted_nodes(self) -> int | None:
        """The node count this data dir was formatted for, or None if it never was."""
        values = self._recorded()
        if "nodes" in values:
            return int(values["nodes"])
        # A data dir formatted before clusters were recorded holds one node.
        return 1 if (self.root / "data" / "meta.properties").exists() else None

    def _recorded(self) -> dict[str, str]:
        try:
            lines = self.record.read_text().splitlines()
        except OSError:
            return {}
        return dict(line.split("=", 1) for line in lines if "=" in line)

    def cluster_id(self) -> str:
        """The cluster's id, chosen once and recorded with the node count."""
        formatted = self.formatted_nodes()
        if formatted is not None and formatted != self.count:
            raise ServiceError(
                f"{self.root} holds a Kafka cluster of {formatted} node(s), not {self.count}: "
                f"run `oms dev up --brokers {formatted}`, or `oms dev down --wipe` first, "
                "or use another OMS_DEV_DATA_DIR"
            )
        recorded = self._recorded().get("cluster.id")
        if recorded:
            return recorded
        meta = self.root / "data" / "meta.properties"
        if meta.exists():  # one node formatted before the record existed: formatted already
            return ""
        cluster_id = new_cluster_id()
        self.root.mkdir(parents=True, exist_ok=True)
        # Formatted with the SCRAM credentials (KafkaBroker.format_storage): secured.
        self.record.write_text(f"nodes={self.count}\ncluster.id={cluster_id}\nsasl={MECHANISM}\n")
        return cluster_id

    def passwords(self) -> dict[str, str]:
        """Every principal's SCRAM password, generated at the first start into the
        0600 credentials file (oms_events.kafka.security)."""
        return ensure_credentials(credentials_path(self.settings))

    def secured(self) -> bool:
        """True when the cluster's metadata holds the SCRAM credentials (formatted with
        them, or upgraded since): its nodes start with SASL and the authorizer."""
        return self._recorded().get("sasl") == MECHANISM

    def _upgrade(self, timeout: float) -> None:
        """Secure a data dir formatted before SASL: start its nodes as they were
        (PLAINTEXT, no authorizer) unless they run, add every principal's SCRAM
        credential through the admin API, stop them, and record it; the next start
        is secured. Topics, events and offsets are kept."""
        marks = [(b, b.launch(self, secure=False)) for b in self.brokers]
        for broker, mark in marks:
            broker.wait_started(mark, timeout)
        self._write_credentials(ClientSecurity("PLAINTEXT"))
        self.stop()
        with self.record.open("a") as f:
            f.write(f"sasl={MECHANISM}\n")

    def add_principals(self) -> None:
        """Give every principal of the credentials file its SCRAM credential on the
        running cluster (as the admin): a data dir formatted before a principal existed
        (``api`` came later) learns it at the next start. Writing an existing one again
        changes nothing its clients notice."""
        if self.secured():
            admin = ClientSecurity("SASL_PLAINTEXT", MECHANISM, ADMIN, self.passwords()[ADMIN])
            self._write_credentials(admin)

    def _write_credentials(self, security: ClientSecurity) -> None:
        """Every principal's SCRAM credential, written through the admin API as ``security``."""
        from oms_events.kafka.confluent import ConfluentClients

        client = ConfluentClients(self.bootstrap_servers, security).admin()
        try:
            client.set_scram_credentials(self.passwords(), MECHANISM)
        finally:
            client.close()

    @property
    def bootstrap_servers(self) -> str:
        """Every node's client address, comma-separated (OMS_KAFKA_BOOTSTRAP_SERVERS)."""
        return ",".join(b.address for b in self.brokers)

    def start(self, timeout: float = 120.0) -> bool:
        """Start the nodes that do not run and wait until every one serves; True if any
        was started. All are spawned before waiting: a node serves only once a quorum
        of controllers is up. A data dir of the PLAINTEXT days is upgraded first
        (:meth:`_upgrade`)."""
        self.passwords()
        upgraded = self.formatted_nodes() is not None and not self.secured()
        if upgraded:
            self._upgrade(timeout)
        marks = [(b, b.launch(self)) for b in self.brokers]
        for broker, mark in marks:
            broker.wait_started(mark, timeout)
        return upgraded or any(mark is not None for _, mark in marks)

    def stop(self) -> bool:
        """Stop every node (controlled shutdowns). True if any ran.

        All at once: one by one, the last node would wait in its controlled shutdown for
        a quorum that already left."""
        with ThreadPoolExecutor(len(self.brokers)) as pool:
            return any(list(pool.map(lambda b: b.stop(), self.brokers)))

    def wipe(self) -> None:
        """Delete every node's data and logs and the cluster record; the jars stay."""
        for b in self.brokers:
            b.wipe()
        self.record.unlink(missing_ok=True)

    def status(self) -> ClusterStatus:
        """Every node: running or not, address, pid, log."""
        return ClusterStatus([b.status() for b in self.brokers])
