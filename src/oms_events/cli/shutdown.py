"""How a long-running command hears it should stop: SIGTERM (a supervisor, ``kill``) and
SIGINT (Ctrl-C) set one event, which the command's loop checks between batches so the
batch in hand is finished, not cut."""

from __future__ import annotations

import signal
import threading
from types import FrameType


def on_shutdown() -> threading.Event:
    """An event set by the next SIGTERM or SIGINT (installed now, in the main thread)."""
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop
