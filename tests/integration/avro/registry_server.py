"""A real Confluent-compatible schema registry for the tests (Apicurio Registry, in memory).

Built once from Maven Central (``registry-pom.xml``) into ``<data_dir>/schema-registry``
and run as ``java -jar`` on a free loopback port; each test session starts its own,
so its subjects start empty.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx

from tests.ports import free_port

HERE = Path(__file__).parent
VERSION = "apicurio-2.1.5.Final"
RUNNER = "target/dev-schema-registry-1-runner.jar"
API = "/apis/ccompat/v6"  # Confluent's REST API


def build(data_dir: Path) -> Path:
    """The registry's runner jar, built unless already there. One build at a time: a
    second caller (another worker, the session's early start in conftest.py) waits for
    the first's jar; a build killed midway leaves only its staging folder."""
    home = data_dir / "schema-registry" / VERSION
    if (home / RUNNER).exists():
        return home / RUNNER
    home.parent.mkdir(parents=True, exist_ok=True)
    with (home.parent / f"{VERSION}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (home / RUNNER).exists():
            return home / RUNNER
        mvn = shutil.which("mvn")
        assert mvn, "Maven is needed (apt-get install -y maven)"
        staging = home.with_name(f"{VERSION}.{uuid.uuid4().hex[:8]}")
        staging.mkdir()
        shutil.copyfile(HERE / "registry-pom.xml", staging / "pom.xml")
        result = subprocess.run(
            [mvn, "-q", "-B", "package", "-DskipTests", "-f", str(staging / "pom.xml")],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        assert result.returncode == 0, f"building the registry failed:\n{result.stdout[-3000:]}"
        shutil.rmtree(home, ignore_errors=True)  # a partial folder of an older layout
        staging.rename(home)
    return home / RUNNER


class RegistryServer:
    """One registry process on loopback; ``url`` is its Confluent API."""

    def __init__(self, jar: Path, log: Path) -> None:
        java = shutil.which("java")
        assert java, "a JDK 17 is needed"
        port = free_port()
        self.url = f"http://127.0.0.1:{port}{API}"
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    java,
                    f"-Dquarkus.http.port={port}",
                    "-Dquarkus.http.host=127.0.0.1",
                    "-jar",
                    str(jar),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Until the Confluent API answers (raises with the log's tail if it never does)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/subjects", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"schema registry did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
