"""Where chunks are mapped: in this process, or in a pool of worker processes while this one writes.

Mapping and normalising (emails, phones, dates, validation) is CPU work that does not need the database, so a
long pass hands chunks to worker processes and keeps reading and writing in the main one. Small passes never
start a pool. `CANALIS_MAPPING_WORKERS` sets the pool size (0 maps everything in process); the default is the
number of CPUs, at most 4.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any

from canalis.parent_watch import exit_with_parent
from canalis.sdk.errors import ConfigError

WORKERS_ENV = "CANALIS_MAPPING_WORKERS"
MAX_DEFAULT_WORKERS = 4

log = logging.getLogger(__name__)


def configured_workers(value: int | None = None) -> int:
    """The pool size: the given value, else CANALIS_MAPPING_WORKERS, else the CPU count (at most 4)."""
    if value is not None:
        return max(0, value)
    text = os.environ.get(WORKERS_ENV, "").strip()
    if not text:
        return min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS)
    if not text.isdigit():
        raise ConfigError(f"{WORKERS_ENV} must be a whole number of processes, got '{text}'", setting=WORKERS_ENV)
    return int(text)


class InProcess(Executor):
    """Runs each job at once in the calling process; the future it returns is already done."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # handed to whoever reads the result, as a pool would
            future.set_exception(error)
        return future


class MappingWorkers:
    """Hands out an executor per pass: in process for small passes, a shared process pool for long ones."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = configured_workers(workers)
        self._pool: ProcessPoolExecutor | None = None
        self._inline = InProcess()

    @property
    def ahead(self) -> int:
        """How many chunks may be in flight at once: two per worker (one mapping, one waiting) besides the one
        being written, so no worker waits for the writer to hand it the next chunk."""
        return 2 * self.workers + 1 if self._pool is not None else 1

    def executor(self, *, long: bool) -> Executor:
        """The pool when the pass is long and workers are allowed, else in-process mapping."""
        if not long or self.workers == 0:
            return self._inline
        if multiprocessing.current_process().daemon:  # a daemonic process may not start children
            log.info("mapping in process: this process is daemonic and cannot start mapping workers")
            self.workers = 0
            return self._inline
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=start_context(), initializer=start_worker
            )
            log.info("mapping in %d worker processes", self.workers)
        return self._pool

    def give_up(self, error: BaseException) -> None:
        """Stop using the pool after it broke (a worker died); the caller maps what was lost in process."""
        log.warning("mapping workers stopped (%s): mapping in process from here on", error)
        self.workers = 0
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> MappingWorkers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


WORKER_NICENESS = 5


def start_worker() -> None:
    """A mapping worker's set-up: it ends with the process it serves, runs at a lower priority and keeps the
    chunks it maps out of the cycle collector's sight (see `canalis.canonical.chunks.chunks_set_aside`)."""
    from canalis.canonical.chunks import set_aside_for_life

    exit_with_parent()
    lower_priority()
    set_aside_for_life()


def lower_priority() -> None:
    """Run a helper process (a mapping worker, a landing writer) at a lower priority than the one it serves.

    The served process holds the one serial step (the canonical writer, the stream reader): when it waits for a
    core, every helper soon waits for it. Helpers work ahead of it, so they can take the cores it leaves.
    """
    with contextlib.suppress(AttributeError, OSError):  # no nice here, or not allowed: same priority then
        os.nice(WORKER_NICENESS)


def start_context() -> multiprocessing.context.BaseContext:
    """forkserver where there is one: workers start from a clean process, not a copy of one with threads and
    open connections; spawn elsewhere (Windows)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["canalis.canonical.chunks"])
        return context
    return multiprocessing.get_context("spawn")
