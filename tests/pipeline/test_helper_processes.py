"""Helper processes (mapping workers, the landing writer) end when the process they serve is killed with kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc (Linux)")

MAPPING_WORKERS = """
    import os, sys, time
    from canalis.canonical.workers import MappingWorkers

    if __name__ == "__main__":
        workers = MappingWorkers(2)
        pool = workers.executor(long=True)
        pids = {pool.submit(os.getpid).result() for _ in range(8)}
        print(" ".join(map(str, sorted(pids))), flush=True)
        time.sleep(600)
"""

LANDING_WRITER = """
    import sys, time
    from canalis.ingest.landing import IngestReport, StreamKeys, WriterProcess
    from canalis.store import Store

    if __name__ == "__main__":
        store = Store(f"sqlite:///{sys.argv[1]}")
        store.migrate()
        writer = WriterProcess(store, IngestReport(connection="c", stream="s"), StreamKeys("id", None), None, None)
        print(writer._process.pid, flush=True)
        time.sleep(600)
"""


def _running(pid: int) -> bool:
    """Whether a process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _helpers_of(script: str, tmp_path: Path) -> tuple[subprocess.Popen, list[int]]:
    path = tmp_path / "parent.py"
    path.write_text(textwrap.dedent(script), encoding="utf-8")
    parent = subprocess.Popen(
        [sys.executable, str(path), str(tmp_path / "canalis.db")], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    assert parent.stdout is not None
    line = parent.stdout.readline()
    assert line.strip(), f"the parent printed no helper ids (exit code {parent.poll()})"
    return parent, [int(pid) for pid in line.split()]


@pytest.mark.parametrize("script", [MAPPING_WORKERS, LANDING_WRITER], ids=["mapping workers", "landing writer"])
def test_helpers_end_when_their_parent_is_killed(script: str, tmp_path: Path) -> None:
    parent, helpers = _helpers_of(script, tmp_path)
    try:
        assert helpers and all(_running(pid) for pid in helpers)
        os.kill(parent.pid, signal.SIGKILL)  # no clean-up runs in the parent: no shutdown, no finaliser
        # the parent stays a zombie (not reaped) until the end, so it still answers kill(pid, 0): only a helper
        # watching its parent's end of a pipe can tell it died
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline and any(_running(pid) for pid in helpers):
            time.sleep(0.05)
        left = [pid for pid in helpers if _running(pid)]
        assert not left, f"helper processes {left} outlived their parent"
    finally:
        parent.kill()
        parent.wait(timeout=10)
        for pid in helpers:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
