"""Helper processes (mapping workers, landing writers) end when the process that started them ends.

A helper started by `multiprocessing` (spawn or forkserver) holds the read end of a pipe whose write end lives in
its parent: when the parent dies, however it dies (`kill -9` included), the pipe reads end-of-file. A daemon thread
in the helper waits for that and ends the helper at once, so a killed run leaves no orphan working on for nobody.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import threading

ORPHAN_EXIT_CODE = 70
"""The exit code of a helper that ended because its parent died."""

log = logging.getLogger(__name__)


def exit_with_parent() -> bool:
    """In a helper process, end it as soon as its parent ends; False where there is no parent to watch (the main
    process, or a start method without a parent sentinel)."""
    parent = multiprocessing.parent_process()
    sentinel = getattr(parent, "sentinel", None) if parent is not None else None
    if sentinel is None:
        return False
    thread = threading.Thread(target=_watch, args=(sentinel, parent.pid), name="canalis-parent-watch", daemon=True)
    thread.start()
    return True


def _watch(sentinel: int, parent_pid: int | None) -> None:
    multiprocessing.connection.wait([sentinel])
    log.warning("the process that started this one (%s) ended: stopping", parent_pid)
    os._exit(ORPHAN_EXIT_CODE)
