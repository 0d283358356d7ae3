"""A single-node Apache Kafka broker in KRaft mode, from Maven Central, on the local JDK.

Maven resolves the broker's jars once into ``~/.m2``; they are copied into
``<data_dir>/kafka/lib-<version>`` and ``java kafka.Kafka`` runs them. The broker
is its own controller, and every internal topic has replication factor 1 and min
ISR 1 so that transactions work on one node.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import time
import uuid
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
from oms_events.settings import Settings

READY_LINE = "Kafka Server started"


@dataclass(frozen=True)
class BrokerStatus:
    """What ``oms dev status`` shows for Kafka."""

    running: bool
    pid: int | None
    address: str
    version: str
    log: Path


class KafkaBroker:
    """The dev broker's files and process, all under ``<data_dir>/kafka``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.dev.data_dir / "kafka"
        self.version = settings.dev.kafka_version
        self.lib = self.home / f"lib-{self.version}"
        self.data = self.home / "data"
        self.log = self.home / "logs" / "server.log"
        self.console_log = self.home / "logs" / "console.log"
        self.pid_file = self.home / "kafka.pid"
        self.address = f"127.0.0.1:{settings.dev.kafka_port}"

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
        self.home.mkdir(parents=True, exist_ok=True)
        pom = self.home / "pom.xml"
        pom.write_text(
            resources.files("oms_events.devservices").joinpath("kafka-broker-pom.xml").read_text()
        )
        staging = self.home / f"lib-{self.version}.partial"
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
    def write_config(self) -> Path:
        """Write server.properties and the Log4j 2 configuration; return the former."""
        s = self.settings
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(exist_ok=True)
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{s.dev.kafka_controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{s.dev.kafka_port},"
            f"CONTROLLER://127.0.0.1:{s.dev.kafka_controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{s.dev.kafka_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data),
            "num.partitions": str(s.kafka.partitions),
            # One node: internal topics cannot have more replicas than brokers.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "10",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
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
        server.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
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
        return [
            "java",
            "-Xms256m",
            "-Xmx1g",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            "-cp",
            f"{self.lib}/*",
            main,
            *args,
        ]

    def format_storage(self, server: Path) -> None:
        """Format the KRaft metadata log once (a new cluster id); later starts reuse it."""
        if (self.data / "meta.properties").exists():
            return
        # Kafka's Uuid prints as URL-safe base64 without padding.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        result = subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(server),
                "--ignore-formatted",
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
        return read_pid(self.pid_file)

    def start(self, timeout: float = 90.0) -> bool:
        """Start the broker unless it runs; wait until it serves. True if it was started."""
        if self.pid() is not None and port_open(self.settings.dev.kafka_port):
            return False
        for port, variable in (
            (self.settings.dev.kafka_port, "OMS_DEV_KAFKA_PORT"),
            (self.settings.dev.kafka_controller_port, "OMS_DEV_KAFKA_CONTROLLER_PORT"),
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
        server = self.write_config()
        self.format_storage(server)
        mark = self.log.stat().st_size if self.log.exists() else 0
        pid = spawn(self._java("kafka.Kafka", str(server)), self.console_log, self.pid_file)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if read_pid(self.pid_file) is None:
                raise ServiceError(
                    f"Kafka exited during start (pid {pid}); see {self.log}\n"
                    f"{self._errors_since(mark)}\n{tail(self.console_log, 5)}\n"
                    "Fix the cause above, or wipe its data with `oms dev down --wipe`."
                )
            if port_open(self.settings.dev.kafka_port) and self._started_since(mark):
                return True
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
        """Stop the broker (a controlled shutdown). True if it was running."""
        pid = self.pid()
        if pid is None:
            return False
        stop_pid(pid, timeout=60)
        self.pid_file.unlink(missing_ok=True)
        return True

    def wipe(self) -> None:
        """Delete the broker's data and logs; the resolved jars stay."""
        shutil.rmtree(self.data, ignore_errors=True)
        shutil.rmtree(self.home / "logs", ignore_errors=True)

    def status(self) -> BrokerStatus:
        """Whether it runs, where, and which version."""
        pid = self.pid()
        return BrokerStatus(
            running=pid is not None and port_open(self.settings.dev.kafka_port),
            pid=pid,
            address=self.address,
            version=self.version,
            log=self.log,
        )
