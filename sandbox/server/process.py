"""A sandbox served from a process of its own, so whoever measures a sync measures the sync, not the emulators.

Served from a thread of the process that also drives or measures the sync, the emulators share its interpreter
lock and their CPU time is counted with it. `SandboxProcess` starts `python -m canalis.sandbox.server.process`,
which serves the data dir on a free loopback port and writes one line of JSON (its base URL and credentials) once
it listens; `stop()` ends it and returns the CPU seconds it used, so a benchmark can print the server's share.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class SandboxProcess:
    """A sandbox served by a child process; use as a context manager or call start() and stop()."""

    data_dir: Path
    imap: bool = False
    faults: str | None = None
    base_url: str = ""
    cpu_seconds: float = 0.0
    _credentials: dict[str, dict[str, str]] = field(default_factory=dict)
    _process: subprocess.Popen | None = None

    def start(self) -> SandboxProcess:
        command = [sys.executable, "-m", "canalis.sandbox.server.process", str(self.data_dir)]
        if self.imap:
            command.append("--imap")
        if self.faults:
            command += ["--faults", self.faults]
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            self._process.wait(timeout=30)
            raise RuntimeError(f"the sandbox process ended before serving (exit {self._process.returncode})")
        ready = json.loads(line)
        self.base_url, self._credentials = ready["base_url"], ready["credentials"]
        return self

    def credentials(self) -> dict[str, dict[str, str]]:
        """Every emulator's credentials (and the IMAP account's under "imap" when it is served)."""
        return self._credentials

    def stop(self) -> float:
        """End the process; the CPU seconds (user and system) it used while serving."""
        process, self._process = self._process, None
        if process is None:
            return self.cpu_seconds
        process.send_signal(signal.SIGTERM)
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except ChildProcessError:  # already reaped
            return self.cpu_seconds
        process.returncode = os.waitstatus_to_exitcode(status)
        self.cpu_seconds = usage.ru_utime + usage.ru_stime
        return self.cpu_seconds

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_until_stopped(data_dir: Path, *, imap: bool, faults: str | None) -> None:
    """Serve the data dir, announce it on stdout as one line of JSON, and stop cleanly on SIGTERM."""
    from canalis.sandbox.server.runner import SandboxServer

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    server = SandboxServer(data_dir, imap=imap, faults=faults).start()
    try:
        ready: dict[str, Any] = {"base_url": server.base_url, "credentials": server.credentials()}
        print(json.dumps(ready), flush=True)
        stopped.wait()
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a sandbox data dir until SIGTERM (see SandboxProcess).")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--imap", action="store_true")
    parser.add_argument("--faults", default=None)
    args = parser.parse_args(argv)
    serve_until_stopped(args.data_dir, imap=args.imap, faults=args.faults)


if __name__ == "__main__":
    main()
