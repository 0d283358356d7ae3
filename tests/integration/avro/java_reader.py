"""Apache Avro for Java, resolved from Maven Central, as a reader we did not write."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).parent


def classpath(work: Path) -> str:
    """Avro's jars (resolved into ~/.m2 by Maven, as the dev broker's are)."""
    mvn = shutil.which("mvn")
    assert mvn, "Maven is needed (apt-get install -y maven)"
    out = work / "classpath.txt"
    subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(HERE / "pom.xml"),
            "dependency:build-classpath",
            f"-Dmdep.outputFile={out}",
        ],
        check=True,
        timeout=600,
    )
    return out.read_text().strip()


def read_single_object(cp: str, schemas: Path, records: list[bytes]) -> list[str]:
    """What Apache Avro for Java decodes from each single-object record given the schema
    files: its Avro JSON, or ``error: …``."""
    return _run(cp, [str(schemas)], records)


def read_from_registry(cp: str, url: str, records: list[bytes]) -> list[str]:
    """What Apache Avro for Java decodes from each Confluent wire-format record given only
    the registry (writer schema by id): its Avro JSON, or ``error: …``."""
    return _run(cp, ["--registry", url], records)


def _run(cp: str, args: list[str], records: list[bytes]) -> list[str]:
    java = shutil.which("java")
    assert java, "a JDK 17 is needed (apt-get install -y openjdk-17-jdk-headless)"
    result = subprocess.run(
        [java, "-cp", cp, str(HERE / "SingleObjectReader.java"), *args],
        input="".join(r.hex() + "\n" for r in records),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
        check=True,
    )
    return result.stdout.splitlines()
