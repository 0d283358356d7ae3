"""Starting, finding and stopping a background server process by its pid file."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


class ServiceError(RuntimeError):
    """A dev service failed; the message says what to do and quotes the log."""


def pid_alive(pid: int) -> bool:
    """True while a process with this pid exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True
    return state != "Z"


def command_line(pid: int) -> bytes:
    """The process's arguments, space-separated (``/proc/PID/cmdline``)."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")


def read_pid(pid_file: Path, command: str | None = None) -> int | None:
    """The pid in ``pid_file`` if that process still runs (and its command line holds
    ``command``, when given: after a reboot a stale pid file may name someone else's
    process), else None."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if not pid_alive(pid):
        return None
    if command is not None:
        try:
            argv = command_line(pid)
        except OSError:
            return pid  # no /proc to ask: trust the pid file
        # Empty while the child is still in exec: its new arguments are set up after the
        # kernel lets the spawning parent go on (a clean-clone run read it so, right
        # after spawn()). Only other arguments name someone else's process.
        if argv and command.encode() not in argv:
            return None
    return pid


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def spawn(
    argv: Sequence[str],
    log_file: Path,
    pid_file: Path,
    env: dict[str, str] | None = None,
    user: str | None = None,
) -> int:
    """Start ``argv`` detached from this process group, output appended to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
            user=user,
        )
    pid_file.write_text(str(proc.pid))
    return proc.pid


def stop_pid(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM, wait, then SIGKILL if the process does not exit in time."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def await_ready(
    name: str,
    pid: int,
    running: Callable[[], bool],
    ready: Callable[[], bool],
    what: str,
    log: Path,
    timeout: float,
) -> None:
    """Wait until the service ``name`` (process ``pid``) is ``ready()``; ServiceError,
    quoting its log, when it stops ``running()`` first or does not ``what`` in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not running():
            raise ServiceError(f"{name} exited during start (pid {pid}):\n{tail(log)}")
        if ready():
            return
        time.sleep(0.2)
    raise ServiceError(f"{name} did not {what} within {timeout:.0f}s:\n{tail(log)}")
