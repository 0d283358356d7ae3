"""The domain is pure: importing it loads no Kafka, PostgreSQL or Avro library."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("kafka", "psycopg", "psycopg_pool", "fastavro", "confluent_kafka")


def test_importing_the_domain_loads_no_infrastructure() -> None:
    # A fresh interpreter: this test process has imported fastavro already.
    code = (
        "import json, sys; import oms_events.domain; "
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    assert "oms_events" in loaded  # the probe really imported the domain
    assert loaded.isdisjoint(FORBIDDEN), loaded & set(FORBIDDEN)
