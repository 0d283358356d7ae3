"""What importing a module loads, asked of a fresh interpreter (the test process has
imported Kafka, Avro and PostgreSQL clients already, so its ``sys.modules`` cannot tell)."""

from __future__ import annotations

import json
import subprocess
import sys


def top_level_modules_loaded_by(*modules: str) -> set[str]:
    """The top-level packages in ``sys.modules`` after a new Python imports ``modules``."""
    code = (
        f"import json, sys; import {', '.join(modules)}; "
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out))
