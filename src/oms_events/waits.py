"""What each running process is waiting for, kept where ``oms status`` reads it.

A process that loses Kafka or PostgreSQL logs ``waiting for …`` (``recovery.py``); an
operator running ``oms status`` sees the same without reading every log. While it
waits, a process keeps one small JSON file, ``<OMS_DEV_DATA_DIR>/waits/<name>-<pid>.json``,
rewritten at each attempt and removed once the service is back. Files, not a table:
the process may be waiting for PostgreSQL itself. A file whose process is gone (killed
while waiting) is ignored and removed by the reader.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from oms_events.settings import Settings


@dataclass(frozen=True)
class Wait:
    """One process waiting for one service."""

    process: str  # e.g. "inventory", "intake.web", "projections"
    pid: int
    waiting_for: str  # "Kafka" or "PostgreSQL"
    since: float  # epoch seconds of the first failed attempt
    attempt: int
    error: str


def folder(settings: Settings) -> Path:
    """Where the wait files of this installation live."""
    return settings.dev.data_dir / "waits"


class WaitBoard:
    """The wait file of one process (one per thread that waits on its own)."""

    def __init__(self, where: Path, process: str) -> None:
        self.path = where / f"{process}-{os.getpid()}.json"
        self.process = process
        self.since: float | None = None

    def waiting(self, what: str, attempt: int, error: str) -> None:
        """Say (again) that this process waits for ``what``."""
        if self.since is None:
            self.since = time.time()
        wait = Wait(self.process, os.getpid(), what, self.since, attempt, error)
        # Best effort: a full or read-only disk must not stop the process from retrying.
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_suffix(".partial")
            partial.write_text(json.dumps(asdict(wait)))
            partial.replace(self.path)  # whole or absent for a reader, never half

    def back(self) -> None:
        """The service answers again: nothing to wait for."""
        self.since = None
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def current(where: Path) -> list[Wait]:
    """Every live process's wait, oldest first; files of dead processes are removed."""
    waits = []
    for path in sorted(where.glob("*.json")) if where.is_dir() else []:
        try:
            wait = Wait(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            continue  # removed or rewritten while read: the next look sees it
        if _alive(wait.pid):
            waits.append(wait)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
    return sorted(waits, key=lambda w: w.since)
