"""Background processes recorded in pid files, so that exactly the processes started are stopped later.

Each process starts in its own session (its process group is its pid), with its output in a log file; its pid
file holds the pid and the process's start time, so a pid reused by another program is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel


class Started(BaseModel):
    """One started process as its pid file records it."""

    name: str
    pid: int
    start_time: int
    command: list[str]
    log: str


def process_start_time(pid: int) -> int | None:
    """The start time of a process in clock ticks since boot (from /proc), or None when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])  # field 22 of stat, counted after the command name


def is_running(started: Started) -> bool:
    """Whether the recorded process is still the one started (and not a zombie)."""
    if process_start_time(started.pid) != started.start_time:
        return False
    try:
        state = Path(f"/proc/{started.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start(
    name: str, command: Sequence[str], *, pid_dir: Path, log_dir: Path, environment: Mapping[str, str], cwd: Path
) -> Started:
    """Start a process in the background, its output appended to `<log_dir>/<name>.log`, and record it."""
    pid_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(environment),
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_default_signals,
        )
    start_time = process_start_time(process.pid)
    started = Started(name=name, pid=process.pid, start_time=start_time or 0, command=list(command), log=str(log_path))
    (pid_dir / f"{name}.pid").write_text(started.model_dump_json(), encoding="utf-8")
    return started


def recorded(pid_dir: Path) -> list[Started]:
    """The processes recorded in a folder's pid files, in the order they were started."""
    if not pid_dir.is_dir():
        return []
    rows = [Started.model_validate(json.loads(path.read_text())) for path in pid_dir.glob("*.pid")]
    return sorted(rows, key=lambda row: row.start_time)


def stop(started: Started, pid_dir: Path, *, timeout: float = 20.0) -> bool:
    """Stop a recorded process and its process group (SIGTERM, then SIGKILL); whether it was running."""
    was_running = is_running(started)
    if was_running:
        _signal_group(started.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and is_running(started):
            time.sleep(0.2)
        # children left behind by the leader (Celery's pool processes) go with it, and a leader that did not stop
        _signal_group(started.pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and is_running(started):  # a process in a disk wait dies when it wakes
            time.sleep(0.1)
    (pid_dir / f"{started.name}.pid").unlink(missing_ok=True)
    return was_running


def _default_signals() -> None:
    """In the child before it runs: SIGTERM and SIGINT back to their defaults.

    A process inherits the signals its parent ignores; started from one that ignores SIGTERM (a test run did),
    a profile process would only stop on SIGKILL, after `stop`'s whole timeout.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _signal_group(pid: int, number: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, number)
